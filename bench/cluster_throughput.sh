#!/usr/bin/env bash
# End-to-end samples/s: the embedded demo (`r1rl demo --zero`: one process, threads) against
# the local cluster (`r1rl cluster up --wait`: learner, grader and workers as processes on
# loopback) with 1 and with 2 rollout workers, on the same task, model, GRPO settings and
# strict on-policy schedule (16 prompts x 8 samples a step). Each run's figure is its median
# step over steps 2..N (the embedded demo's evaluation steps excluded). The three runs are
# interleaved, ROUNDS times, so the machine's drift hits each mode alike; the ratios are
# medians of the per-round ratios.
#
#   bash bench/cluster_throughput.sh [build/bin] [steps=12] [rounds=3]
set -euo pipefail
BIN=$(readlink -f "${1:-build/bin}")
STEPS=${2:-12}
ROUNDS=${3:-3}
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
: > results.txt
for round in $(seq 1 "$ROUNDS"); do
  rm -rf embedded runs
  "$BIN/r1rl" demo --zero --steps "$STEPS" --run-dir embedded > embedded.log 2>&1
  E=$(median embedded/metrics.jsonl "None if 'heldout_accuracy' in r or r.get('step', 0) < 1 else 128 / r['step_seconds']")
  "$BIN/r1rl" cluster up --name w1 --workers 1 --graders 1 --wait --set grpo.steps="$STEPS" > w1.log 2>&1
  C1=$(median runs/w1/metrics.jsonl "r['samples_per_second']")
  "$BIN/r1rl" cluster up --name w2 --workers 2 --graders 1 --wait --set grpo.steps="$STEPS" > w2.log 2>&1
  C2=$(median runs/w2/metrics.jsonl "r['samples_per_second']")
  echo "$E $C1 $C2" | tee -a results.txt
done
python3 - <<'PY'
import statistics
rows = [list(map(float, l.split())) for l in open("results.txt")]
med = lambda xs: statistics.median(xs)
e, c1, c2 = (med([r[i] for r in rows]) for i in range(3))
cost = med([100 * (r[0] / r[1] - 1) for r in rows])
scale = med([r[2] / r[1] for r in rows])
print(f"median samples/s over {len(rows)} interleaved rounds (16 prompts x 8 samples a step, strictly on-policy):")
print(f"  embedded (one process)        {e:7.1f}")
print(f"  cluster, 1 worker, 1 grader   {c1:7.1f}   cost over embedded {cost:+.1f}% (median of rounds)")
print(f"  cluster, 2 workers, 1 grader  {c2:7.1f}   2 workers / 1 worker = {scale:.2f}x (median of rounds)")
PY
