#!/usr/bin/env bash
# Issue 19's attacks, repeated against `r1rl cluster up` with the default settings (real
# processes on loopback: learner, param-broadcast, 2 graders, 2 workers). r1rl-attacker
# holds only what a cluster publishes (the CA certificate, the servers' CurveZMQ public keys)
# and tries: admin calls (pause, drain, checkpoint), Register + FetchWeights, Grade, Join and
# Publish on the broadcast, graded groups with reward 100 into the ingest, rollouts into the
# rollouts socket, taking rollouts from the graders' endpoint, weight chunks from the
# broadcast, 40 idle HTTP connections against /healthz. Then, as a rogue worker and grader
# (their own keys): admin calls, Grade, taking over worker-1's id, a reward of 100 for a
# live lease, a group for another worker's lease. Every attempt must be refused and counted,
# every service must listen on loopback only, and the honest run must finish every step
# with the reward rising. Also: a service without keys refuses to start (exit 2), and one
# with security.insecure warns at start and on /metrics.
set -euo pipefail
R1RL=$(readlink -f "$1")
ATTACKER=$(readlink -f "$2")
BIN=$(dirname "$R1RL")
STEPS=20
work=$(mktemp -d)
cd "$work"
cleanup() {
  "$R1RL" cluster down --name at >/dev/null 2>&1 || true
  [ -n "${INSECURE_PID:-}" ] && kill -9 "$INSECURE_PID" 2>/dev/null || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/at/logs/*.log *.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done; exit 1; }
json() { python3 -c "import json,sys; t=json.load(open('runs/at/cluster.json')); $1"; }
svc() { json "print([s['$2'] for s in t['services'] if s['name']=='$1'][0])"; }
steps_done() { [ -f runs/at/metrics.jsonl ] && wc -l < runs/at/metrics.jsonl || echo 0; }

echo "== a service without keys refuses to start; an insecure one says so"
set +e
"$BIN/r1rl-reward-grader" --set grader.grpc_address=127.0.0.1:0 --set grader.metrics_address=127.0.0.1:0 \
  > nokeys.log 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || fail "a grader without keys exited $code, not 2"
grep -q "security.keys_dir" nokeys.log || fail "the refusal does not name security.keys_dir"
"$BIN/r1rl-reward-grader" --set security.insecure=true --set grader.grpc_address=127.0.0.1:0 \
  --set grader.metrics_address=127.0.0.1:0 > insecure.out 2> insecure.log &
INSECURE_PID=$!
for _ in $(seq 100); do grep -q "metrics port" insecure.out 2>/dev/null && break; sleep 0.1; done
MPORT=$(sed -n 's/.*metrics port \([0-9]*\).*/\1/p' insecure.out)
grep -q "security.insecure = true" insecure.log || fail "no warning at start"
# Into a file first: `grep -q` quits at its match, and under pipefail the writer's broken pipe
# would fail the check.
python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics').read().decode())" \
  > insecure-metrics.txt || fail "no /metrics on port '$MPORT'"
grep -q '^r1rl_security_insecure 1' insecure-metrics.txt || fail "r1rl_security_insecure is not 1 on /metrics"
kill "$INSECURE_PID"; wait "$INSECURE_PID" || true; INSECURE_PID=

echo "== cluster up, default settings"
"$R1RL" cluster up --name at --workers 2 --graders 2 \
  --set grpo.steps=$STEPS --set learner.lease_seconds=4 || fail "cluster up"
KEYS=$(json "print(t['security']['keys_dir'])")
[ -f "$KEYS/ca.crt" ] || fail "cluster up made no keys"

echo "== every service listens on loopback only"
python3 - $(json "print(' '.join(str(s['pid']) for s in t['services']))") <<'PY' || fail "a service listens beyond loopback"
import os, sys
inodes = {}
for pid in sys.argv[1:]:
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes[link[8:-1]] = pid
bad, seen = [], 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        f = line.split()
        if f[3] != "0A" or f[9] not in inodes:  # LISTEN sockets of the cluster's processes
            continue
        seen += 1
        addr = f[1].split(":")[0]
        if addr not in ("0100007F", "00000000000000000000000001000000",
                        "0000000000000000FFFF00000100007F"):  # 127.0.0.1, ::1, ::ffff:127.0.0.1
            bad.append((inodes[f[9]], f[1]))
print(f"{seen} listening sockets, {len(bad)} beyond loopback: {bad}")
assert seen >= 12 and not bad
PY

for _ in $(seq 600); do [ "$(steps_done)" -ge 2 ] && break; sleep 0.5; done
[ "$(steps_done)" -ge 2 ] || fail "no training step"

echo "== the attacker"
E=runs/at/endpoints.json
ep() { python3 -c "import json; print(json.load(open('$E'))['$1'])"; }
GRADER_GRPC=127.0.0.1:$(sed -n 's/.*serving; gRPC port \([0-9]*\).*/\1/p' runs/at/logs/grader-1.log | head -1)
CHUNKS=$(sed -n 's/^ *chunk_address: *"\{0,1\}\(tcp:[^"]*\)"\{0,1\} *$/\1/p' runs/at/config.yaml | head -1)
[ -n "$CHUNKS" ] || fail "no broadcast.chunk_address in runs/at/config.yaml"
"$ATTACKER" --learner "$(ep grpc)" --broadcast "$(svc broadcast grpc)" --grader "$GRADER_GRPC" \
  --ingest "$(ep ingest)" --graders "$(ep graders)" --rollouts "$(ep rollouts)" --chunks "$CHUNKS" \
  --learner-metrics "$(ep metrics)" --broadcast-metrics "$(svc broadcast metrics)" \
  --ca "$KEYS/ca.crt" --learner-pub "$KEYS/curve/learner.pub" --broadcast-pub "$KEYS/curve/broadcast.pub" \
  --insider-keys "$KEYS" | tee attacker.log || fail "the attacker got through"

echo "== the honest run finishes, untouched"
deadline=$((SECONDS + 400))
until grep -q "steps in" runs/at/logs/learner.log 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the run did not finish"
  sleep 1
done
python3 - <<'PY' || fail "the run"
import json
rows = [json.loads(l) for l in open("runs/at/metrics.jsonl")]
acc = [r["reward/accuracy"] for r in rows]
first, last = sum(acc[:5]) / 5, sum(acc[-5:]) / 5
print(f"{len(rows)} steps; accuracy reward: first 5 steps {first:.3f}, last 5 steps {last:.3f}")
assert len(rows) == 20, "every step"
assert last > first + 0.1, "the reward did not rise"
assert max(r.get("reward", 0) for r in rows) <= 2.0, "a made-up reward reached training"
PY
grep -E "learner: [0-9]+ steps in|steps in" runs/at/logs/learner.log | tail -1
"$R1RL" cluster down --name at
echo "attacker_test: OK"
