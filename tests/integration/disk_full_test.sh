#!/usr/bin/env bash
# The disk fills up under a running cluster (`r1rl cluster up` in a 160 MiB tmpfs: the
# RocksDB buffer, checkpoints, metrics.jsonl and logs all on it). First it fills to within
# 6 MiB: checkpoints (7 MiB each) fail, are counted and training goes on. Then it fills
# completely: the ingest refuses groups below its reserve (learner.buffer_min_free_mb, 4 here;
# counted as disk_full; never acknowledged, so their leases expire and the prompts are
# sampled again) and metrics.jsonl lines wait in memory. No process may die. Then space returns: the run finishes every step with no lease or prompt trained twice,
# metrics.jsonl has every step's line, and the final checkpoint is written.
set -euo pipefail
R1RL=$(readlink -f "$1")
STEPS=40
work=$(mktemp -d)
mkdir -p "$work/disk"
if ! mount -t tmpfs -o size=160m tmpfs "$work/disk" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"
  rm -rf "$work"
  exit 77
fi
cd "$work/disk"
cleanup() {
  "$R1RL" cluster down --name df >/dev/null 2>&1 || true
  cd /
  umount -l "$work/disk" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; df -h "$work/disk" || true; for f in runs/df/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; exit 1; }
json() { python3 -c "import json,sys; t=json.load(open('runs/df/cluster.json')); $1"; }
metric() {  # name{labels}: the learner's value (0 when absent)
  python3 - "$LM" "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
print(next((l.rsplit(" ", 1)[1] for l in text.splitlines() if l.startswith(sys.argv[2] + " ")), "0"))
PY
}
steps_done() { [ -f runs/df/metrics.jsonl ] && wc -l < runs/df/metrics.jsonl || echo 0; }
at_least_steps() { [ "$(steps_done)" -ge "$1" ]; }
alive() { for p in $PIDS; do kill -0 "$p" 2>/dev/null || fail "process $p died"; done; }
wait_for() {  # seconds, condition...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    alive
    sleep 0.5
  done
}
above() { python3 -c "import sys; sys.exit(0 if float('$(metric "$1")') > 0 else 1)"; }

"$R1RL" cluster up --name df --workers 1 --graders 1 --set grpo.steps=$STEPS \
  --set learner.checkpoint_every=2 --set learner.checkpoint_keep=1 --set learner.lease_seconds=3 \
  --set learner.buffer_min_free_mb=4 \
  || fail "cluster up"
LM=$(json "print(t['services'][0]['metrics'])")
PIDS=$(json "print(' '.join(str(s['pid']) for s in t['services']))")
wait_for 300 at_least_steps 3 || fail "no training"

echo "== the disk fills to within 6 MiB: checkpoints (7 MiB) fail, training goes on"
free_mb=$(df -m --output=avail . | tail -1 | tr -d ' ')
dd if=/dev/zero of=filler bs=1M count=$((free_mb - 6)) status=none
wait_for 120 above r1rl_learner_checkpoint_failures_total || fail "no checkpoint failure counted"
echo "checkpoint failures: $(metric r1rl_learner_checkpoint_failures_total)"

echo "== the disk fills up: the ingest refuses groups (disk_full), nothing dies"
dd if=/dev/zero of=filler2 bs=64K status=none 2>/dev/null || true
wait_for 120 above 'r1rl_controller_rejected_total{reason="disk_full"}' || fail "no disk_full rejection counted"
sleep 5
alive
echo "groups refused while full: $(metric 'r1rl_controller_rejected_total{reason="disk_full"}')"

echo "== space returns: the run finishes"
rm -f filler filler2
LEARNER_PID=$(json "print(t['services'][0]['pid'])")
deadline=$((SECONDS + 400))
while kill -0 "$LEARNER_PID" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the run did not finish after space returned"
  sleep 1
done
grep -q "steps in" runs/df/logs/learner.log || fail "the learner did not finish cleanly"
[ -f runs/df/checkpoints/final/state.json ] || fail "no final checkpoint"
python3 - "$STEPS" <<'PY' || fail "audit"
import json, sys
steps = int(sys.argv[1])
rows = [json.loads(l) for l in open("runs/df/metrics.jsonl") if "event" not in l]
trained = [json.loads(l) for l in open("runs/df/trained.jsonl") if "event" not in l]
leases = [l for t in trained for l in t["leases"]]
prompts = [p for t in trained for p in t["prompts"]]
print(f"{len(rows)} metrics lines, {len(trained)} trained lines, {len(leases)} groups, "
      f"{len(set(leases))} distinct leases, {len(set(prompts))} distinct prompts")
assert [r["step"] for r in rows] == list(range(1, steps + 1)), "a step's metrics line is missing"
assert [t["step"] for t in trained] == list(range(1, steps + 1)), "a step's trained line is missing"
assert len(set(leases)) == len(leases), "a lease was trained twice"
assert len(set(prompts)) == len(prompts), "a prompt was trained twice"
PY
"$R1RL" cluster down --name df
echo "disk_full_test: OK"
