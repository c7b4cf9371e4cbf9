#!/usr/bin/env bash
# The services as a local cluster (r1rl cluster up): 1 learner, 2 rollout workers, 2 reward
# graders, real processes on loopback. While it trains: promtool checks every /metrics, a
# worker is killed with SIGKILL, a grader is killed with SIGKILL and another started in its
# place, and r1rl-chaos sends bad input to every socket. The run must finish every step,
# train no lease or prompt twice, and the reward must rise as in the embedded demo.
set -euo pipefail
R1RL=$(readlink -f "$1")
CHAOS=$(readlink -f "$2")
BIN=$(dirname "$R1RL")
STEPS=20
work=$(mktemp -d)
cd "$work"
cleanup() {
  "$R1RL" cluster down --name ct >/dev/null 2>&1 || true
  [ -n "${NEW_GRADER:-}" ] && kill -9 "$NEW_GRADER" 2>/dev/null || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/ct/logs/*.log; do echo "--- $f"; tail -n 15 "$f"; done; exit 1; }
json() { python3 -c "import json,sys; t=json.load(open('runs/ct/cluster.json')); $1"; }
steps_done() { [ -f runs/ct/metrics.jsonl ] && wc -l < runs/ct/metrics.jsonl || echo 0; }
wait_steps() {
  local deadline=$((SECONDS + 300))
  until [ "$(steps_done)" -ge "$1" ]; do
    [ $SECONDS -lt $deadline ] || fail "step $1 not reached in 300 s"
    sleep 0.5
  done
}

"$R1RL" cluster up --name ct --workers 2 --graders 2 \
  --set grpo.steps=$STEPS --set learner.lease_seconds=4 || fail "cluster up"
wait_steps 2

echo "== promtool check metrics on every endpoint"
for ep in $(json "print(' '.join(s['metrics'] for s in t['services']))"); do
  python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://$ep/metrics').read().decode())" > m.txt
  promtool check metrics < m.txt || fail "promtool on $ep"
  grep -q '^r1rl_' m.txt || fail "no r1rl_ metric on $ep"
done
python3 -c "import urllib.request; print(urllib.request.urlopen('http://$(json "print(t['services'][0]['metrics'])")/metrics').read().decode())" > learner.txt
grep -q '^r1rl_learner_policy_version' learner.txt || fail "learner metrics"

echo "== status"
"$R1RL" cluster status --name ct | tee status.txt
[ "$(grep -c ' up ' status.txt)" -eq 6 ] || fail "not every service is up"

echo "== SIGKILL worker-1 while it holds leases (leased more prompts than it pushed groups)"
W1=$(json "print([s['metrics'] for s in t['services'] if s['name']=='worker-1'][0])")
W1PID=$(json "print([s['pid'] for s in t['services'] if s['name']=='worker-1'][0])")
# The kill comes from the same loop that saw the lease unsampled, within a millisecond: a
# lease of 8 prompts takes a few hundred ms to sample, so the worker dies holding it.
python3 - "$W1" "$W1PID" <<'PY' || fail "worker-1 never held leases"
import os, signal, sys, time, urllib.request
def get(name):
    for line in urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode().splitlines():
        if line.startswith(name + " "): return float(line.split()[1])
    return 0.0
for _ in range(2000):
    # a whole lease (8 prompts) unpushed: still sampling, not in the middle of pushing
    if get("r1rl_worker_prompts_leased_total") >= get("r1rl_worker_groups_pushed_total") + 8:
        os.kill(int(sys.argv[2]), signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY
KILLED_AT=$(steps_done)
# Its leases expire (learner.lease_seconds = 4) and are granted again: the counters say so.
python3 - "$(json "print(t['services'][0]['metrics'])")" <<'PY' || fail "expiry counters"
import sys, time, urllib.request
for _ in range(120):
    text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
    vals = {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l.startswith("r1rl_controller_leases_")}
    if vals["r1rl_controller_leases_expired_total"] >= 1 and vals["r1rl_controller_leases_reissued_total"] >= 1: break
    time.sleep(0.5)
print("  " + ", ".join(f"{k} {v:g}" for k, v in sorted(vals.items())))
assert vals["r1rl_controller_leases_expired_total"] >= 1 and vals["r1rl_controller_leases_reissued_total"] >= 1
PY
wait_steps $((KILLED_AT + 2))

echo "== SIGKILL grader-1, start another in its place"
kill -9 "$(json "print([s['pid'] for s in t['services'] if s['name']=='grader-1'][0])")"
"$BIN/r1rl-reward-grader" --config runs/ct/config.yaml --set grader.id=grader-1b \
  --set grader.metrics_address=127.0.0.1:0 --set grader.grpc_address=127.0.0.1:0 > runs/ct/logs/grader-1b.log 2>&1 &
NEW_GRADER=$!
wait_steps 9

echo "== bad input on every socket"
E=runs/ct/endpoints.json
ep() { python3 -c "import json; print(json.load(open('$E'))['$1'])"; }
"$CHAOS" --grpc "$(ep grpc)" --rollouts "$(ep rollouts)" --ingest "$(ep ingest)" \
  --learner-metrics "$(ep metrics)" --grader-metrics "$(json "print([s['metrics'] for s in t['services'] if s['name']=='grader-2'][0])")" \
  --metrics "$(json "print([s['metrics'] for s in t['services'] if s['name']=='worker-2'][0])")" \
  --keys "$(json "print(t['security']['keys_dir'])")" || fail "chaos"

echo "== the run finishes"
wait_steps $STEPS
for i in $(seq 1 100); do grep -q "steps in" runs/ct/logs/learner.log && break; sleep 0.3; done
grep "steps in" runs/ct/logs/learner.log || fail "learner did not finish"
kill -0 "$NEW_GRADER" || fail "the restarted grader died"
python3 - <<'PY' || fail "audit"
import json
rows = [json.loads(l) for l in open("runs/ct/metrics.jsonl")]
trained = [json.loads(l) for l in open("runs/ct/trained.jsonl")]
leases = [l for t in trained for l in t["leases"]]
prompts = [p for t in trained for p in t["prompts"]]
print(f"{len(rows)} steps, {len(leases)} groups trained, {len(set(leases))} distinct leases, {len(set(prompts))} distinct prompts")
assert len(rows) == 20 and len(leases) == 20 * 16, "every step trains a full batch"
assert len(set(leases)) == len(leases), "a lease was trained twice"
assert len(set(prompts)) == len(prompts), "a prompt was trained twice"
acc = [r["reward/accuracy"] for r in rows]
first, last = sum(acc[:5]) / 5, sum(acc[-5:]) / 5
print(f"accuracy reward: first 5 steps {first:.3f}, last 5 steps {last:.3f}")
assert last > first + 0.1, "the reward did not rise"
PY
grep -Eq "leases expired [1-9]" runs/ct/logs/learner.log || fail "the killed worker's leases never expired"
echo "$(grep 'steps in' runs/ct/logs/learner.log)"
"$R1RL" cluster down --name ct
echo "cluster_test: OK"
