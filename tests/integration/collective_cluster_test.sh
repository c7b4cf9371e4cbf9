#!/usr/bin/env bash
# The broadcast's collective path in a real cluster (r1rl cluster up, processes on loopback):
# broadcast.collective with the Gloo backend, as GPU workers would use NCCL. Both workers ask
# into the learner's group; new versions reach them through it (the learner's c10d broadcast
# right after each publish, every tensor checked against the manifest's hash). Then worker-2
# is killed with SIGKILL: the next version fails in the group, worker-1 takes it from the
# relay chain, the dead member is dropped, and a new generation (the learner and worker-1)
# carries the versions after it. The run must finish every step with the reward rising.
set -euo pipefail
R1RL=$(readlink -f "$1")
STEPS=16
work=$(mktemp -d)
cd "$work"
cleanup() {
  "$R1RL" cluster down --name cc >/dev/null 2>&1 || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/cc/logs/*.log; do echo "--- $f"; tail -n 25 "$f"; done; exit 1; }
json() { python3 -c "import json,sys; t=json.load(open('runs/cc/cluster.json')); $1"; }
svc() { json "print([s['$2'] for s in t['services'] if s['name']=='$1'][0])"; }
steps_done() { [ -f runs/cc/metrics.jsonl ] && wc -l < runs/cc/metrics.jsonl || echo 0; }
metric() {  # metric ENDPOINT NAME_WITH_LABELS: its value (0 when absent)
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
v = [float(l.split()[-1]) for l in text.splitlines() if l.startswith(sys.argv[2] + " ")]
print(int(v[0]) if v else 0)
PY
}
wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what"
    sleep 0.5
  done
}

"$R1RL" cluster up --name cc --workers 2 --graders 1 \
  --set grpo.steps=$STEPS --set learner.lease_seconds=4 \
  --set broadcast.collective=true --set broadcast.collective_backend=gloo \
  --set broadcast.collective_host=127.0.0.1 --set broadcast.bucket_bytes=262144 \
  --set broadcast.collective_timeout_s=20 --set broadcast.receiver_timeout_ms=60000 \
  || fail "cluster up"
BMETRICS=$(svc broadcast metrics)
LMETRICS=$(svc learner metrics)
ok_versions() { metric "$BMETRICS" 'r1rl_broadcast_collective_versions_total{outcome="ok"}'; }

echo "== versions through the group, to both workers"
through_group() { [ "$(grep -c 'loaded from the collective group' "runs/cc/logs/$1.log" 2>/dev/null)" -ge "$2" ]; }
wait_for "worker-1 took no version through the group" 300 through_group worker-1 2
wait_for "worker-2 took no version through the group" 60 through_group worker-2 2
[ "$(ok_versions)" -ge 2 ] || fail "the service counted $(ok_versions) versions through the group"
grep -Eq "collective group generation [0-9]+ formed: 2 receivers \(gloo\)" runs/cc/logs/learner.log \
  || fail "the learner never formed the group of two"
[ "$(metric "$LMETRICS" r1rl_learner_collective_seconds_count)" -ge 2 ] || fail "learner metric"

echo "== SIGKILL worker-2, a member of the group"
before=$(grep -c 'loaded from the collective group' runs/cc/logs/worker-1.log)
kill -9 "$(svc worker-2 pid)"
failed() { [ "$(metric "$BMETRICS" 'r1rl_broadcast_collective_versions_total{outcome="failed"}')" -ge 1 ]; }
wait_for "the group never noticed its dead member" 120 failed
regrouped() { grep -Eq "collective group generation [0-9]+ formed: 1 receivers" runs/cc/logs/learner.log; }
wait_for "no new generation without the dead member" 120 regrouped
again() { [ "$(grep -c 'loaded from the collective group' runs/cc/logs/worker-1.log)" -gt "$before" ]; }
wait_for "worker-1 took nothing through the new generation" 120 again
grep -q "loaded from the broadcast" runs/cc/logs/worker-1.log \
  || fail "worker-1 never took the failed version from the relay chain"

echo "== the run finishes"
deadline=$((SECONDS + 400))
until grep -q "steps in" runs/cc/logs/learner.log 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the run did not finish"
  sleep 1
done
python3 - $STEPS <<'PY' || fail "the run"
import json, sys
rows = [json.loads(l) for l in open("runs/cc/metrics.jsonl")]
assert len(rows) == int(sys.argv[1]), f"{len(rows)} steps"
acc = [r["reward/accuracy"] for r in rows]
first, last = sum(acc[:4]) / 4, sum(acc[-4:]) / 4
print(f"accuracy reward: first 4 steps {first:.3f}, last 4 steps {last:.3f}")
assert last > first + 0.05, "the reward did not rise"
PY
echo "versions through the group: $(ok_versions); failed: $(metric "$BMETRICS" 'r1rl_broadcast_collective_versions_total{outcome="failed"}')"
grep "steps in" runs/cc/logs/learner.log
"$R1RL" cluster down --name cc
echo "collective_cluster_test: OK"
