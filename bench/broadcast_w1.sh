#!/usr/bin/env bash
# W1: new weights to N receivers, through r1rl-param-broadcast's relay chain and through the
# learner's Controller.FetchWeights (one stream per worker), on links the bench rate-limits so
# that the network, not the two cores, is the limit. Root only (network namespaces).
#
#   sudo bash bench/broadcast_w1.sh [BUILD_DIR]        (env: RATE_BIG RATE_MANY BIG SMALL ...)
#
# Every node (the service; each receiver) lives in a network namespace of its own, joined to
# one bridge by a veth pair whose two ends are shaped with tc tbf at the run's rate: a node
# uploads and downloads at most that rate, as on a switch with one NIC per host. The
# publisher runs beside the service (the service runs beside the learner). Time = the last
# receiver's "verified" clock minus the service's publish clock (one host, one clock).
# Prints one line per run and the ratios the issue asks for; results: docs/benchmarks.md.
set -euo pipefail
BUILD=$(readlink -f "${1:-build}")
SVC=$BUILD/bin/r1rl-param-broadcast
PEER=$BUILD/bench/broadcast_peer
RATE_BIG=${RATE_BIG:-200mbit}    # per link, the 1 GB runs
RATE_MANY=${RATE_MANY:-40mbit}   # per link, the 64-receiver run (64 links on 2 cores)
BIG=${BIG:-1073741824}           # 1 GiB
SMALL=${SMALL:-268435456}        # 256 MiB
NS_BIG=${NS_BIG:-"1 2 4 8"}
MANY=${MANY:-64}
FETCH_NS=${FETCH_NS:-"1 2 4 8"}   # FetchWeights runs (time grows with N: 8 copies of 1 GiB...)
CHUNK=${CHUNK:-1048576}
MTU=${MTU:-65000}
[ "$(id -u)" = 0 ] || { echo "broadcast_w1: needs root (ip netns, tc)"; exit 2; }
[ -x "$SVC" ] && [ -x "$PEER" ] || { echo "broadcast_w1: build $SVC and $PEER first"; exit 2; }
work=$(mktemp -d)
# TLS and role tokens, as the services run by default (both paths pay for them).
"$BUILD/bin/r1rl" keys init "$work/keys" > /dev/null
BR=w1br
nodes=()
cleanup() {
  pkill -f "$PEER" 2>/dev/null || true
  pkill -f "$SVC" 2>/dev/null || true
  cleanup_nodes
  if [ -n "${KEEP:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# node NAME IP RATE: a namespace on the bridge, shaped both ways.
node() {
  local n=$1 ipaddr=$2 rate=$3 h="h${#nodes[@]}"
  ip netns add "$n"; nodes+=("$n")
  ip link add "$h" type veth peer name eth0 netns "$n"
  # Jumbo frames: the kernel's per-packet work (veth, bridge, tbf, TCP) is what two cores run
  # out of first; with 1500-byte frames 8 links at 200 Mbit/s took all of both.
  ip link set "$h" mtu $MTU master $BR up
  ip netns exec "$n" ip link set eth0 mtu $MTU
  ip netns exec "$n" ip addr add "$ipaddr/16" dev eth0
  ip netns exec "$n" ip link set eth0 up
  ip netns exec "$n" ip link set lo up
  # burst: a few frames at the rate; limit: the queue (~50 ms) before drops.
  tc qdisc add dev "$h" root tbf rate "$rate" burst 256kb latency 50ms
  ip netns exec "$n" tc qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
}
net_up() {  # receivers, rate
  cleanup_nodes
  ip link add $BR type bridge; ip link set $BR mtu $MTU up
  node w1s 10.77.0.1 "$2"
  for i in $(seq 1 "$1"); do node "w1r$i" "10.77.$((i / 250 + 1)).$((i % 250 + 1))" "$2"; done
}
cleanup_nodes() {  # by name: runs happen in subshells
  local ns
  for ns in $(ip netns list | awk '$1 ~ /^w1(s|r[0-9]+)$/ {print $1}'); do ip netns del "$ns"; done
  nodes=()
  ip link del $BR 2>/dev/null || true
}
rx_ip() { echo "10.77.$(($1 / 250 + 1)).$(($1 % 250 + 1))"; }

# broadcast_run N BYTES RATE: prints "seconds service_copies"
broadcast_run() {
  local n=$1 bytes=$2 rate=$3
  net_up "$n" "$rate"
  ip netns exec w1s "$SVC" --set security.keys_dir="$work/keys" --set broadcast.grpc_address=0.0.0.0:50061 \
    --set broadcast.chunk_address=tcp://0.0.0.0:5561 --set broadcast.advertise_host=10.77.0.1 \
    --set broadcast.metrics_address=127.0.0.1:0 --set broadcast.chunk_bytes=$CHUNK \
    --set broadcast.relay_timeout_ms=10000 --set broadcast.receiver_timeout_ms=60000 \
    --set broadcast.sync_wait_ms=2000 --set broadcast.slow_lag_chunks=0 \
    --set runtime.log_level=warn > "$work/svc.log" 2>&1 &
  local svc=$!
  for _ in $(seq 100); do ip netns exec w1s "$PEER" status --keys "$work/keys" --service 127.0.0.1:50061 >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq 1 "$n"); do
    ip netns exec "w1r$i" "$PEER" receive --keys "$work/keys" --service 10.77.0.1:50061 --id "r$i" \
      --bind tcp://0.0.0.0:0 --advertise-host "$(rx_ip "$i")" --discard --max-held-chunks 64 \
      --versions 1 --timeout-s 900 > "$work/r$i.out" 2> "$work/r$i.log" &
  done
  for _ in $(seq 600); do
    [ "$(ip netns exec w1s "$PEER" status --keys "$work/keys" --service 127.0.0.1:50061 | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("receivers",[])))')" = "$n" ] && break
    sleep 0.1
  done
  ip netns exec w1s "$PEER" publish --keys "$work/keys" --service 127.0.0.1:50061 --version 1 --bytes "$bytes" > "$work/pub.out"
  wait $(jobs -p | grep -v "^$svc$") 2>/dev/null || true
  local status
  status=$(ip netns exec w1s "$PEER" status --keys "$work/keys" --service 127.0.0.1:50061)
  kill "$svc"; wait "$svc" 2>/dev/null || true
  mkdir -p "$work/run-$n-$bytes" && cp "$work"/r*.out "$work"/r*.log "$work/svc.log" "$work/run-$n-$bytes/" 2>/dev/null || true
  python3 - "$work" "$n" "$status" <<'PY'
import json, sys
work, n, status = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
rows = []
for i in range(1, n + 1):
    lines = [l for l in open(f"{work}/r{i}.out") if l.strip()]
    if not lines: sys.exit(f"receiver r{i} verified nothing (see {work}/r{i}.log)")
    rows.append(json.loads(lines[-1]))
t = max(r["verified_unix_ms"] for r in rows) - rows[0]["published_unix_ms"]
v = status["versions"][-1]
reparents = sum(r["reparents"] for r in rows)
failures = sum(r["hash_failures"] for r in rows)
print(f"{t / 1000:.3f} {int(v['bytesSentByService']) / int(v['totalBytes']):.3f} {reparents} {failures}")
PY
}

# fetch_run N BYTES RATE: prints "seconds"
fetch_run() {
  local n=$1 bytes=$2 rate=$3
  net_up "$n" "$rate"
  mkdir -p "$work/ctl"
  ip netns exec w1s "$PEER" serve-fetch --keys "$work/keys" --address 0.0.0.0:50051 --bytes "$bytes" --dir "$work/ctl" > "$work/ctl.out" 2> "$work/ctl.log" &
  local ctl=$!
  for _ in $(seq 300); do grep -q serving "$work/ctl.out" && break; sleep 0.1; done
  local pids=()
  for i in $(seq 1 "$n"); do
    ip netns exec "w1r$i" "$PEER" fetch --keys "$work/keys" --controller 10.77.0.1:50051 > "$work/f$i.out" 2> "$work/f$i.log" &
    pids+=($!)
  done
  wait "${pids[@]}"
  kill "$ctl"; wait "$ctl" 2>/dev/null || true
  rm -rf "$work/ctl"
  python3 - "$work" "$n" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(open(f"{work}/f{i}.out").read()) for i in range(1, n + 1)]
print(f"{(max(r['end_unix_ms'] for r in rows) - min(r['start_unix_ms'] for r in rows)) / 1000:.3f}")
PY
}

echo "W1: $(nproc) cores; chunk $CHUNK bytes; $((BIG >> 20)) MiB at $RATE_BIG per link, $((SMALL >> 20)) MiB at $RATE_MANY per link"
declare -A T C F
for n in $NS_BIG; do
  read -r T[$n] C[$n] R F1 < <(broadcast_run "$n" "$BIG" "$RATE_BIG")
  echo "broadcast  $((BIG >> 20)) MiB -> $n receivers: ${T[$n]} s  (service sent ${C[$n]} copies; $R re-parents, $F1 hash failures)"
done
T1m=0; Tm=0
if [ "$MANY" -gt 0 ]; then
  read -r T1m C1m R F1 < <(broadcast_run 1 "$SMALL" "$RATE_MANY")
  echo "broadcast  $((SMALL >> 20)) MiB -> 1 receiver: $T1m s  (service sent $C1m copies)"
  read -r Tm Cm R F1 < <(broadcast_run "$MANY" "$SMALL" "$RATE_MANY")
  echo "broadcast  $((SMALL >> 20)) MiB -> $MANY receivers: $Tm s  (service sent $Cm copies; $R re-parents, $F1 hash failures)"
fi
for n in ${FETCH_NS//none/}; do
  F[$n]=$(fetch_run "$n" "$BIG" "$RATE_BIG")
  echo "FetchWeights $((BIG >> 20)) MiB -> $n receivers: ${F[$n]} s"
done
python3 - "$(declare -p T F)" "$T1m" "$Tm" "$MANY" <<'PY'
import re, sys
decl, t1m, tm, many = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
T = {int(k): float(v) for k, v in re.findall(r'\[(\d+)\]="([\d.]+)"', decl.split("declare -A F")[0])}
F = {int(k): float(v) for k, v in re.findall(r'\[(\d+)\]="([\d.]+)"', decl.split("declare -A F")[1])}
print("ratios (goal: 8 receivers <= 1.2x one; 64 <= 1.5x; the service sends each byte <= 2 times):")
for n in sorted(T):
    extra = f", FetchWeights {F[n] / F[1]:.2f}x" if n in F and 1 in F else ""
    print(f"  broadcast to {n}: {T[n] / T[1]:.2f}x one receiver{extra}")
if t1m > 0: print(f"  broadcast to {many}: {tm / t1m:.2f}x one receiver")
for n in sorted(F):
    if n in T: print(f"  FetchWeights / broadcast at {n}: {F[n] / T[n]:.2f}x")
PY
