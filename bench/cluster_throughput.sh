#!/usr/bin/env bash
# End-to-end samples/s: the embedded demo (`r1rl demo --zero`: one process, threads) against
# the local cluster (`r1rl cluster up --wait`: learner, graders and workers as processes on
# loopback) with 1 and with 2 rollout workers, on the same task, model, GRPO settings and
# strict on-policy schedule (16 prompts x 8 samples a step). Medians over steps 2..N (the
# embedded demo's evaluation steps excluded), ratios from this one run.
#
#   bash bench/cluster_throughput.sh [build/bin] [steps=12]
set -euo pipefail
BIN=$(readlink -f "${1:-build/bin}")
STEPS=${2:-12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
median() {  # metrics.jsonl, then a python expression of row r giving samples/s or None
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
vals = [v for r in rows[1:] if (v := eval(sys.argv[2], {"r": r})) is not None]
print(f"{statistics.median(vals):.1f}")
PY
}
"$BIN/r1rl" demo --zero --steps "$STEPS" --run-dir embedded > embedded.log 2>&1
E=$(median embedded/metrics.jsonl "None if 'heldout_accuracy' in r or r.get('step', 0) < 1 else 128 / r['step_seconds']")
"$BIN/r1rl" cluster up --name w1 --workers 1 --graders 1 --wait --set grpo.steps="$STEPS" > w1.log 2>&1
C1=$(median runs/w1/metrics.jsonl "r['samples_per_second']")
"$BIN/r1rl" cluster up --name w2 --workers 2 --graders 1 --wait --set grpo.steps="$STEPS" > w2.log 2>&1
C2=$(median runs/w2/metrics.jsonl "r['samples_per_second']")
python3 - "$E" "$C1" "$C2" <<'PY'
import sys
e, c1, c2 = map(float, sys.argv[1:])
print(f"median samples/s (16 prompts x 8 samples a step, {sys.argv[0] and ''}strictly on-policy):")
print(f"  embedded (one process)        {e:7.1f}")
print(f"  cluster, 1 worker, 1 grader   {c1:7.1f}   cost over embedded {100 * (e / c1 - 1):+.1f}%")
print(f"  cluster, 2 workers, 1 grader  {c2:7.1f}   2 workers / 1 worker = {c2 / c1:.2f}x")
PY
