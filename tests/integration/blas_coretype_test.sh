#!/usr/bin/env bash
# OpenBLAS's kernels chosen for the user (lib/runtime/blas_core.h), end to end with the real
# binary: re-executed with OPENBLAS_CORETYPE set when OpenBLAS fell back to a generic core,
# the GEMM check passed, `r1rl doctor` saying so, and the user's own choice winning.
# On a CPU that OpenBLAS knows, R1RL_BLAS_TEST_CORENAME=Prescott makes the binary act as if
# OpenBLAS had fallen back (the re-execution, the variable, the kernels and the check are real).
# Usage: blas_coretype_test.sh <r1rl>
set -euo pipefail
r1rl=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

env -u OPENBLAS_CORETYPE -u R1RL_BLAS_CORETYPE "$r1rl" doctor --json > "$work/own.json"
own=$(field "$work/own.json" openblas_core)
echo "own:     $own"
case "$own" in
  "not OpenBLAS") echo "SKIP: the BLAS here is not OpenBLAS"; exit 0 ;;
esac
[[ "$own" == *"OpenBLAS's own choice"* ]] || fail "doctor without a fallback: $own"

# A fallback: the binary re-executes itself with the best core for this CPU.
env -u OPENBLAS_CORETYPE -u R1RL_BLAS_CORETYPE R1RL_BLAS_TEST_CORENAME=Prescott \
  "$r1rl" doctor --json > "$work/chosen.json"
chosen=$(field "$work/chosen.json" openblas_core)
echo "chosen:  $chosen"
[[ "$chosen" == *"chosen by r1rl: OpenBLAS fell back to Prescott"* ]] || fail "no choice made: $chosen"
[[ "$chosen" == *"GEMM check matched"* ]] || fail "the GEMM check is not reported: $chosen"
core=${chosen%% *}
[ "$core" != Prescott ] || fail "still on Prescott kernels"
[ "$(field "$work/chosen.json" reference_blas)" = False ] || fail "reference BLAS"

# The kernels really changed: the chosen core's GEMM beats Prescott's (the fallback's) clearly.
env -u R1RL_BLAS_CORETYPE OPENBLAS_CORETYPE=Prescott "$r1rl" doctor --json > "$work/prescott.json"
[[ "$(field "$work/prescott.json" openblas_core)" == "Prescott (OPENBLAS_CORETYPE=Prescott, set by you)" ]] ||
  fail "the user's Prescott not kept: $(field "$work/prescott.json" openblas_core)"
python3 - "$work/chosen.json" "$work/prescott.json" <<'PY' || fail "the chosen kernels are not faster"
import json, sys
chosen, prescott = (json.load(open(p))["gemm_gflops"] for p in sys.argv[1:])
print(f"GEMM GFLOP/s: chosen {chosen:.1f}, Prescott {prescott:.1f} ({chosen / prescott:.2f}x)")
sys.exit(0 if chosen > 1.3 * prescott else 1)
PY

# The user's own OPENBLAS_CORETYPE always wins, even over a fallback.
env -u R1RL_BLAS_CORETYPE OPENBLAS_CORETYPE=Haswell R1RL_BLAS_TEST_CORENAME=Prescott \
  "$r1rl" doctor --json > "$work/user.json"
user=$(field "$work/user.json" openblas_core)
echo "user:    $user"
[[ "$user" == *"OPENBLAS_CORETYPE=Haswell, set by you"* ]] || fail "the user's choice lost: $user"

# R1RL_BLAS_CORETYPE=off leaves OpenBLAS alone.
env -u OPENBLAS_CORETYPE R1RL_BLAS_CORETYPE=off R1RL_BLAS_TEST_CORENAME=Prescott \
  "$r1rl" doctor --json > "$work/off.json"
off=$(field "$work/off.json" openblas_core)
echo "off:     $off"
[[ "$off" == *"R1RL_BLAS_CORETYPE=off"* ]] || fail "off not honoured: $off"

# Children inherit the choice (cluster up starts services this way) without re-checking.
env -u OPENBLAS_CORETYPE -u R1RL_BLAS_CORETYPE R1RL_BLAS_TEST_CORENAME=Prescott \
  OPENBLAS_CORETYPE="$core" R1RL_BLAS_CORETYPE="chosen:$core:Prescott" \
  "$r1rl" doctor --json > "$work/child.json"
[[ "$(field "$work/child.json" openblas_core)" == "$core (chosen by r1rl"* ]] ||
  fail "a child does not report the inherited choice: $(field "$work/child.json" openblas_core)"
echo "PASS"
