#!/usr/bin/env bash
# What OpenBLAS's fallback costs, and what r1rl's choice of kernels gives back (issue 21;
# lib/runtime/blas_core.h). On a CPU that Debian's OpenBLAS 0.3.21 does not know it runs its
# Prescott kernels; "fallback" reproduces that on any x86 CPU (OPENBLAS_CORETYPE=Prescott) and
# "r1rl" is what the binaries then do by themselves (R1RL_BLAS_TEST_CORENAME=Prescott: the
# binary acts as if OpenBLAS had reported Prescott, re-executes with the best core for this CPU
# and checks a GEMM). Alternates the two, prints medians and ratios from this one run.
#
#   bench/blas_coretype.sh [build=build] [rounds=3] [--demo]
# GEMM (`r1rl doctor`) runs `rounds` times each way, decode_bench (--new-tokens 16, ~2-3 min)
# once each way; --demo also times one full `r1rl demo` each way (about 2 + 4 minutes).
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
demo=${3:-}
r1rl="$build/bin/r1rl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fallback=(env -u R1RL_BLAS_CORETYPE -u R1RL_BLAS_TEST_CORENAME OPENBLAS_CORETYPE=Prescott)
chosen=(env -u OPENBLAS_CORETYPE -u R1RL_BLAS_CORETYPE R1RL_BLAS_TEST_CORENAME=Prescott)

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
"${chosen[@]}" "$r1rl" doctor --json > "$work/d.json"
echo "r1rl's choice: $(field "$work/d.json" openblas_core)"

for i in $(seq "$rounds"); do
  for mode in fallback chosen; do
    declare -n cmd=$mode
    "${cmd[@]}" "$r1rl" doctor --json > "$work/d.json"
    field "$work/d.json" gemm_gflops >> "$work/gemm.$mode"
    printf 'round %d %-8s GEMM %6.1f GFLOP/s\n' "$i" "$mode" "$(tail -n1 "$work/gemm.$mode")"
  done
done
for mode in fallback chosen; do
  declare -n cmd=$mode
  "${cmd[@]}" "$build/bench/decode_bench" --new-tokens 16 > "$work/decode.$mode" 2>&1
  # batch-64 KV-cache decode, tokens/s
  awk '$1 == "KV" && $2 == "cache" && $3 == 64 {print $4}' "$work/decode.$mode" |
    head -n1 > "$work/tok.$mode"
  printf '%-8s decode_bench: batch 64 %s tokens/s; %s\n' "$mode" "$(cat "$work/tok.$mode")" \
    "$(grep -m1 '^ceilings' "$work/decode.$mode")"
done
gf=$(median < "$work/gemm.fallback"); gc=$(median < "$work/gemm.chosen")
tf=$(median < "$work/tok.fallback"); tc=$(median < "$work/tok.chosen")
printf "median fallback: GEMM %.1f GFLOP/s, decode %s tokens/s\n" "$gf" "$tf"
printf "median r1rl:     GEMM %.1f GFLOP/s, decode %s tokens/s\n" "$gc" "$tc"
python3 -c "import sys; g0,g1,t0,t1=map(float,sys.argv[1:]); print(f'r1rl / fallback: GEMM {g1/g0:.2f}x, decode batch 64 {t1/t0:.2f}x')" \
  "$gf" "$gc" "$tf" "$tc"

if [ "$demo" = --demo ]; then
  for mode in fallback chosen; do
    declare -n cmd=$mode
    start=$(date +%s.%N)
    "${cmd[@]}" "$r1rl" demo --run-dir "$work/demo.$mode" > "$work/demo.$mode.log" 2>&1
    end=$(date +%s.%N)
    secs=$(python3 -c "print(f'{$end - $start:.0f}')")
    echo "demo $mode: ${secs} s wall; $(grep -m1 -i 'held-out' "$work/demo.$mode/summary.txt" || tail -n1 "$work/demo.$mode.log")"
    echo "$secs" > "$work/demo.$mode.s"
  done
  python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(f'demo wall time, fallback / r1rl: {a/b:.2f}x')" \
    "$(cat "$work/demo.fallback.s")" "$(cat "$work/demo.chosen.s")"
fi
