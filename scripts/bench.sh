#!/usr/bin/env bash
# Runs every benchmark in bench/ and keeps the output in <build>/bench-results.txt.
set -euo pipefail
build=${1:-build}
out="$build/bench-results.txt"
: > "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)" | tee -a "$out"
"$build/bin/r1rl" doctor | grep -E 'blas|gemm|libtorch' | tee -a "$out" || true
for b in "$build"/bench/*_bench; do
  echo "== $(basename "$b")" | tee -a "$out"
  "$b" 2>&1 | tee -a "$out"
done
echo "== blas_coretype.sh (OpenBLAS's fallback kernels against r1rl's choice)" | tee -a "$out"
bash "$(dirname "$0")/../bench/blas_coretype.sh" "$build" 3 2>&1 | tee -a "$out"
echo "results kept in $out"
