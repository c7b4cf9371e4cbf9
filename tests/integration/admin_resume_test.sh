#!/usr/bin/env bash
# The learner's Admin service and its restart, on a local cluster (1 learner, 1 worker, 1
# grader as processes on loopback): `r1rl admin status` lists the worker's report, `r1rl
# health` gets SERVING from the learner's and the worker's grpc.health.v1, `r1rl admin
# checkpoint` saves a checkpoint mid-run; then the learner is killed with SIGKILL and started
# again: it resumes from that checkpoint's step and dataset position while the worker
# re-registers on its own; `r1rl admin drain` ends the run early with exit 0 and a final
# checkpoint. No lease is trained twice.
set -euo pipefail
R1RL=$(readlink -f "$1")
BIN=$(dirname "$R1RL")
work=$(mktemp -d)
cd "$work"
cleanup() {
  "$R1RL" cluster down --name ar >/dev/null 2>&1 || true
  [ -n "${LEARNER2:-}" ] && kill -9 "$LEARNER2" 2>/dev/null || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/ar/logs/*.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }
json() { python3 -c "import json,sys; t=json.load(open('runs/ar/cluster.json')); $1"; }
version() { "$R1RL" admin status --name ar --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin).get('policyVersion', 0))" || echo -1; }
wait_version() {
  local deadline=$((SECONDS + 300))
  until [ "$(version)" -ge "$1" ]; do
    [ $SECONDS -lt $deadline ] || fail "version $1 not reached in 300 s"
    sleep 0.5
  done
}

# No scheduled checkpoints: the asked-for one is the one to resume from.
"$R1RL" cluster up --name ar --workers 1 --graders 1 --set grpo.steps=40 --set learner.lease_seconds=4 \
  --set learner.checkpoint_every=0 || fail "cluster up"
wait_version 3

echo "== admin status, health"
"$R1RL" admin status --name ar | tee status.txt
grep -Eq "^worker-1 +yes" status.txt || fail "the worker's report is not in the status"
GRPC=$(json "print(t['services'][0]['grpc'])")
"$R1RL" health "$GRPC" --name ar || fail "learner health"
WPORT=$("$R1RL" admin status --name ar --json | python3 -c "import json,sys; print(json.load(sys.stdin)['workerInfo'][0]['grpcAddress'].rsplit(':',1)[1])")
"$R1RL" health "127.0.0.1:$WPORT" --name ar || fail "worker health"
if "$R1RL" health 127.0.0.1:1 --name ar --timeout 1 2>/dev/null; then fail "health of nothing succeeded"; fi

echo "== admin checkpoint"
"$R1RL" admin checkpoint --name ar | tee ckpt.txt
STEP=$(sed -n 's/^checkpoint: step \([0-9]*\) in .*/\1/p' ckpt.txt)
DIR=$(sed -n 's/^checkpoint: step [0-9]* in \(.*\)/\1/p' ckpt.txt)
[ -n "$STEP" ] && [ "$STEP" -ge 3 ] || fail "checkpoint step '$STEP'"
for f in config.json model.safetensors optimizer.safetensors tokenizer.json; do [ -f "$DIR/$f" ] || fail "$DIR/$f missing"; done
wait_version $((STEP + 2))

echo "== SIGKILL the learner at version $(version), start it again"
kill -9 "$(json "print(t['services'][0]['pid'])")"
"$BIN/r1rl-learner" --config runs/ar/config.yaml > runs/ar/logs/learner-2.log 2>&1 &
LEARNER2=$!
for i in $(seq 1 100); do grep -q "resuming at step" runs/ar/logs/learner-2.log && break; sleep 0.2; done
grep "resuming at step $STEP from" runs/ar/logs/learner-2.log || fail "the learner did not resume from step $STEP"
wait_version $((STEP + 3))
kill -0 "$(json "print([s['pid'] for s in t['services'] if s['name']=='worker-1'][0])")" || fail "the worker died"

echo "== admin drain: the learner finishes what is out, saves and exits 0"
"$R1RL" admin drain --name ar | head -1
set +e
wait "$LEARNER2"
CODE=$?
set -e
LEARNER2=
[ "$CODE" -eq 0 ] || fail "the drained learner exited $CODE"
grep "steps in" runs/ar/logs/learner-2.log || fail "no summary"
[ -f runs/ar/checkpoints/final/model.safetensors ] || fail "no final checkpoint"
python3 - "$STEP" <<'PY' || fail "audit"
import json, sys
step = int(sys.argv[1])
lines = [json.loads(l) for l in open("runs/ar/trained.jsonl")]
marks = [r for r in lines if r.get("event") == "start"]
assert len(marks) == 1 and marks[0]["resumed_at_step"] == step, f"restart marks: {marks}"
trained = [r for r in lines if "event" not in r]
steps = [t["step"] for t in trained]
resumed = steps.index(step + 1, steps.index(step + 1) + 1)  # the second run's first step
after = trained[resumed:]
assert [t["step"] for t in after] == list(range(step + 1, step + 1 + len(after))), steps
assert len(after) < 40 - step, "drain did not end the run early"
leases = [l for t in trained for l in t["leases"]]
assert len(set(leases)) == len(leases), "a lease was trained twice"
print(f"steps {steps[0]}..{steps[resumed - 1]}, then {after[0]['step']}..{after[-1]['step']} after the restart; "
      f"{len(leases)} groups, all leases distinct")
PY
echo "admin_resume_test: OK"
