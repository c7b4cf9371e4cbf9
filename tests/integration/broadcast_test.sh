#!/usr/bin/env bash
# The param-broadcast service with real processes on loopback: r1rl-param-broadcast and
# receivers (bench/broadcast_peer, the receiver the rollout worker runs, without LibTorch)
# in one relay chain r1 -> r2 -> r3 -> r4. A 384 MB version goes out; r2 is killed with
# SIGKILL while it relays it: r3 must be re-parented and resume at the chunks it had (it
# fetches each byte once, give or take the requests in flight), and every survivor verifies
# the version. A late joiner gets the newest version from the chain. r4 is frozen (SIGSTOP)
# while two more versions go out: thawed, it skips to the newest. The service's /metrics
# pass promtool and count what happened.
set -euo pipefail
SERVICE_BIN=$(readlink -f "$1")
PEER=$(readlink -f "$2")
R1RL=$(readlink -f "$3")
work=$(mktemp -d)
cd "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in *.log *.out; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$R1RL" keys init "$work/keys" > /dev/null || fail "keys init"
KEYS=$work/keys  # TLS and role tokens, as the services run by default
GRPC=$(free_port); CHUNKS=$(free_port); METRICS=$(free_port)
SVC=127.0.0.1:$GRPC
"$SERVICE_BIN" --set security.keys_dir=$KEYS --set broadcast.grpc_address=$SVC --set broadcast.chunk_address=tcp://127.0.0.1:$CHUNKS \
  --set broadcast.metrics_address=127.0.0.1:$METRICS --set broadcast.advertise_host=127.0.0.1 \
  --set broadcast.chunk_bytes=1048576 --set broadcast.relay_timeout_ms=1000 \
  --set broadcast.sync_wait_ms=500 --set broadcast.receiver_timeout_ms=3000 > service.log 2>&1 &
pids+=($!)
status() { "$PEER" status --keys "$KEYS" --service $SVC; }
for _ in $(seq 100); do status > /dev/null 2>&1 && break; sleep 0.1; done
status > /dev/null || fail "the service did not come up"

receiver() {  # name, extra args...
  local name=$1; shift
  "$PEER" receive --keys "$KEYS" --service $SVC --id "$name" --bind tcp://127.0.0.1:0 --advertise-host 127.0.0.1 \
    --discard --versions 99 --timeout-s 300 "$@" > "$name.out" 2> "$name.log" &
  pids+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 100); do status | grep -q "\"receiverId\":\"$name\"" && return; sleep 0.05; done
  fail "$name did not join"
}
receiver r1; receiver r2; receiver r3; receiver r4
python3 - <<PY || fail "not one chain r1 -> r2 -> r3 -> r4"
import json, subprocess
st = json.loads(subprocess.check_output(["$PEER", "status", "--keys", "$KEYS", "--service", "$SVC"]))
parents = {r["receiverId"]: r["parentId"] for r in st["receivers"]}
assert parents == {"r1": "root", "r2": "r1", "r3": "r2", "r4": "r3"}, parents
PY

versions_of() { python3 -c "import json,sys; print(' '.join(str(json.loads(l)['version']) for l in open('$1.out') if l.strip()))"; }
wait_version() {  # name, version
  for _ in $(seq 1200); do versions_of "$1" | grep -qw "$2" && return; sleep 0.05; done
  fail "$1 did not verify version $2"
}

echo "== version 0 (384 MB); r2 is killed with SIGKILL mid-transfer"
"$PEER" publish --keys "$KEYS" --service $SVC --version 0 --bytes 402653184 --seed 1 > publish0.out || fail "publish 0"
killed=0
for _ in $(seq 2000); do
  done2=$(status | python3 -c "import json,sys; st=json.load(sys.stdin); print([r['chunksDone'] for r in st['receivers'] if r['receiverId']=='r2'][0])")
  if [ "$done2" -gt 8 ]; then kill -9 "$PID_r2"; killed=1; break; fi
  sleep 0.01
done
[ $killed = 1 ] || fail "r2 was never caught mid-transfer"
echo "r2 killed at $done2 chunks"
for r in r1 r3 r4; do wait_version $r 0; done
python3 - <<'PY' || fail "r3 did not resume where it was"
import json
r3 = json.loads(open("r3.out").readline())
total = r3["chunks_fetched"] * 1048576
print("r3:", r3)
assert r3["reparents"] >= 1, "r3 was never re-parented"
# Resumed, not restarted: it took each chunk once, plus at most the window in flight (4).
assert r3["bytes_received"] <= total + 4 * 1048576, r3
PY

echo "== a late joiner gets the newest version from the chain"
receiver late
wait_version late 0

echo "== r4 is frozen while versions 1 and 2 go out; thawed, it skips to 2"
kill -STOP "$PID_r4"
# Version 1 is large: a Sync answered while r4 was frozen may hand it version 1 first, and it
# must learn of version 2 (one Sync, milliseconds) long before it could finish version 1.
"$PEER" publish --keys "$KEYS" --service $SVC --version 1 --bytes 134217728 --seed 2 > publish1.out || fail "publish 1"
for r in r1 r3 late; do wait_version $r 1; done
"$PEER" publish --keys "$KEYS" --service $SVC --version 2 --bytes 16777216 --seed 3 > publish2.out || fail "publish 2"
for r in r1 r3 late; do wait_version $r 2; done
kill -CONT "$PID_r4"
wait_version r4 2
[ "$(versions_of r4)" = "0 2" ] || fail "r4 verified versions $(versions_of r4), not 0 then 2"

echo "== metrics"
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$METRICS/metrics').read().decode())" > metrics.txt
if command -v promtool > /dev/null; then promtool check metrics < metrics.txt || fail "promtool"; fi
value() { awk -v k="$1" '$1==k {print $2}' metrics.txt; }
python3 - "$(value r1rl_broadcast_versions_published_total)" "$(value 'r1rl_broadcast_reparents_total{reason="timeout"}')" \
  "$(value r1rl_broadcast_bytes_sent_total)" <<'PY' || fail "metrics"
import sys
published, reparents, sent = (float(x or 0) for x in sys.argv[1:])
assert published == 3, published
assert reparents >= 1, reparents
# The service sent version 0 once (r1), plus what re-parented and late receivers took from it.
print(f"service sent {sent/402653184:.2f} x version 0's size over three versions")
PY
grep -q '^r1rl_broadcast_last_seconds_to_all' metrics.txt || fail "no seconds-to-all"
echo "broadcast_test: OK"
