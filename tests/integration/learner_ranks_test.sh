#!/usr/bin/env bash
# The data-parallel learner as real processes on loopback (r1rl cluster up --learners 2):
#  1. Two ranks (c10d Gloo) train the demo task as one rank does: the same per-step batches
#     (max_policy_lag 0 and seeded sampling make the runs comparable step by step) and the same
#     reward rise.
#  2. With the optimizer sharded (ZeRO-1), rank 1 killed with SIGKILL mid-run: rank 0 exits
#     within learner.dist_timeout_s with an error naming rank 1, nothing it acknowledged is
#     lost, and both ranks started again on the run folder resume from the newest checkpoint
#     (its optimizer state gathered from both shards) and finish: no lease trained twice, the
#     steps after the restart contiguous.
#  3. Bad input: a rank outside the world, a world size that differs from rank 0's, a
#     rendezvous that never completes: exit 2 with the key or the missing rank named.
set -euo pipefail
R1RL=$(readlink -f "$1")
BIN=$(dirname "$R1RL")
work=$(mktemp -d)
cd "$work"
PIDS=()
cleanup() {
  for n in one two kill; do "$R1RL" cluster down --name $n >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/*/logs/*.log *.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done; exit 1; }
steps_done() { local n=0; [ -f "runs/$1/metrics.jsonl" ] && n=$(grep -vc "\"event\"" "runs/$1/metrics.jsonl" || true); echo "${n:-0}"; }
SETS=(--set grpo.steps=20 --set grpo.max_policy_lag=0 --set learner.checkpoint_every=4
      --set learner.dist_timeout_s=30 --set learner.lease_seconds=4)

echo "== [${SECONDS} s] 1 rank and 2 ranks, 20 steps each"
"$R1RL" cluster up --name one --workers 1 --graders 1 "${SETS[@]}" --wait > one.log 2>&1 || fail "1 rank"
"$R1RL" cluster up --name two --learners 2 --workers 1 --graders 1 "${SETS[@]}" --wait > two.log 2>&1 || fail "2 ranks"
grep -q "learner rank 1: done at step 20" runs/two/logs/learner-rank-1.log || fail "rank 1 did not finish"
python3 - <<'PY' || fail "2 ranks differ from 1"
import json
def rows(name):
    return [json.loads(l) for l in open(f"runs/{name}/metrics.jsonl") if '"event"' not in l]
one, two = rows("one"), rows("two")
assert len(one) == 20 and len(two) == 20, (len(one), len(two))
assert all(r["ranks"] == 2 for r in two) and all(r["allreduce_bytes"] > 0 for r in two)
rise = lambda rs: sum(r["reward/accuracy"] for r in rs[-5:]) / 5 - sum(r["reward/accuracy"] for r in rs[:5]) / 5
print("reward 1 rank: ", " ".join(f"{r['reward']:.2f}" for r in one))
print("reward 2 ranks:", " ".join(f"{r['reward']:.2f}" for r in two))
print(f"accuracy rise: 1 rank {rise(one):.3f}, 2 ranks {rise(two):.3f}")
# Step 1 samples from the same initial weights, and a step's update agrees to ~1e-7: the first
# steps see the same batches and losses.
for s in range(3):
    assert one[s]["reward"] == two[s]["reward"], f"step {s+1}: reward {one[s]['reward']} vs {two[s]['reward']}"
    # (the loss is a small sum of terms of both signs: compare it absolutely)
    assert abs(one[s]["loss"] - two[s]["loss"]) <= 1e-6, \
        f"step {s+1}: loss {one[s]['loss']} vs {two[s]['loss']}"
same = next((s for s in range(20) if one[s]["reward"] != two[s]["reward"]), 20)
print(f"the first {same} of 20 steps trained on the same batches")
assert rise(one) > 0.1 and rise(two) > 0.1, "the reward did not rise"
assert abs(rise(one) - rise(two)) < 0.15, "2 ranks learn differently from 1"
share = sum(r["allreduce_seconds"] for r in two) / sum(r["train_seconds"] for r in two)
print(f"2 ranks: all-reduce (waiting included) {100 * share:.1f}% of the step's training time")
PY

echo "== [${SECONDS} s] ZeRO-1 on; rank 1 killed with SIGKILL after step 6"
"$R1RL" cluster up --name kill --learners 2 --workers 1 --graders 1 "${SETS[@]}" \
  --set learner.shard_optimizer=true > kill.log 2>&1 || fail "cluster up kill"
pid_of() { python3 -c "import json,sys; print([s['pid'] for s in json.load(open('runs/kill/cluster.json'))['services'] if s['name']=='$1'][0])"; }
deadline=$((SECONDS + 300))
until [ "$(steps_done kill)" -ge 6 ]; do
  [ $SECONDS -lt $deadline ] || fail "the run did not reach step 6"
  sleep 0.05
done
R0=$(pid_of learner)
kill -9 "$(pid_of learner-rank-1)"
KILLED_AT=$(steps_done kill)
T0=$SECONDS
while kill -0 "$R0" 2>/dev/null; do
  [ $((SECONDS - T0)) -lt 45 ] || fail "rank 0 still runs $((SECONDS - T0)) s after rank 1 died"
  sleep 0.1
done
echo "rank 0 exited $((SECONDS - T0)) s after the kill (at step $KILLED_AT):"
grep -E "rank 1 (is|are) gone" runs/kill/logs/learner.log || fail "rank 0's error does not name rank 1"

echo "== [${SECONDS} s] both ranks started again on the run folder (workers, graders, broadcast still up)"
"$BIN/r1rl-learner" --config runs/kill/config.yaml --set learner.rank=1 --set runtime.threads=1 \
  --set learner.metrics_address=127.0.0.1:0 > runs/kill/logs/rank1-2.log 2>&1 &
RANK1=$!
PIDS+=($RANK1)
set +e
"$BIN/r1rl-learner" --config runs/kill/config.yaml --set learner.rank=0 --set runtime.threads=1 > runs/kill/logs/learner-2.log 2>&1
CODE=$?
wait "$RANK1"
CODE1=$?
set -e
[ "$CODE" -eq 0 ] || fail "the restarted rank 0 exited $CODE"
[ "$CODE1" -eq 0 ] || fail "the restarted rank 1 exited $CODE1"
grep "resuming at step" runs/kill/logs/learner-2.log || fail "rank 0 did not resume"
RESUMED=$(sed -n 's/^learner: resuming at step \([0-9]*\) .*/\1/p' runs/kill/logs/learner-2.log)
grep -q "starting at step $RESUMED" runs/kill/logs/rank1-2.log || fail "rank 1 did not resume at step $RESUMED"
python3 - "$RESUMED" <<'PY' || fail "audit"
import json, sys
resumed = int(sys.argv[1])
lines = [json.loads(l) for l in open("runs/kill/trained.jsonl")]
marks = [i for i, r in enumerate(lines) if r.get("event") == "start"]
assert len(marks) == 1 and lines[marks[0]]["resumed_at_step"] == resumed, lines[marks[0]]
after = lines[marks[0] + 1:]
assert [r["step"] for r in after] == list(range(resumed + 1, 21)), [r["step"] for r in after]
before = [r for r in lines[:marks[0]] if r["step"] <= resumed]
kept = before + after
leases = [l for r in kept for l in r["leases"]]
assert len(leases) == 20 * 16, f"{len(leases)} groups trained in the kept steps"
assert len(set(leases)) == len(leases), "a lease was trained twice"
print(f"resumed at step {resumed}; steps 1..20 trained {len(leases)} distinct groups")
PY
[ -f runs/kill/checkpoints/final/model.safetensors ] || fail "no final checkpoint"
python3 - <<'PY' || fail "the sharded optimizer's checkpoint is not whole"
import json, struct
def names(p):
    b = open(p, "rb").read()
    h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
    h.pop("__metadata__", None)
    return set(h)
m, o = names("runs/kill/checkpoints/final/model.safetensors"), names("runs/kill/checkpoints/final/optimizer.safetensors")
assert o == {f"{n}{s}" for n in m for s in (".exp_avg", ".exp_avg_sq")}, (len(m), len(o))
print(f"final checkpoint: {len(o)} Adam tensors for {len(m)} parameters, gathered from 2 shards")
PY
"$R1RL" cluster down --name kill > /dev/null 2>&1 || true

echo "== [${SECONDS} s] bad input"
expect2() {  # expect2 <what> <pattern> <args...>
  local what=$1 pattern=$2; shift 2
  set +e
  timeout 60 "$BIN/r1rl-learner" --config runs/kill/config.yaml --set learner.run_dir=bad "$@" > bad.log 2>&1
  local code=$?
  set -e
  [ "$code" -eq 2 ] || { cat bad.log; fail "$what: exit $code, not 2"; }
  grep -q "$pattern" bad.log || { cat bad.log; fail "$what: no '$pattern'"; }
  echo "$what: exit 2: $(grep -o "$pattern.*" bad.log | head -1 | cut -c1-150)"
}
expect2 "rank out of range" "learner.rank = 2" --set learner.world_size=2 --set learner.rank=2
expect2 "heartbeat interval" "learner.heartbeat_seconds = 0" --set learner.heartbeat_seconds=0
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
expect2 "rendezvous never completes" "rank(s) 1 of 2 never joined" --set learner.world_size=2 \
  --set learner.rank=0 --set learner.master_port=$PORT --set learner.dist_timeout_s=3
"$BIN/r1rl-learner" --config runs/kill/config.yaml --set learner.run_dir=bad0 --set learner.world_size=2 \
  --set learner.rank=0 --set learner.master_port=$PORT --set learner.dist_timeout_s=20 > bad0.log 2>&1 &
PIDS+=($!)
expect2 "world size differs" "learner.world_size = 3 on rank 2, but rank 0 runs with world size 2" \
  --set learner.world_size=3 --set learner.rank=2 --set learner.master_port=$PORT --set learner.dist_timeout_s=20
[ ! -e bad/checkpoints/final ] || fail "a failed rendezvous wrote a checkpoint"
# A model folder whose tokenizer.json is not JSON (the workers would load it): refused.
model=$("$R1RL" config --config runs/kill/config.yaml | python3 -c \
  "import re,sys; t=sys.stdin.read(); print(re.search(r'^learner:\n(?:  .*\n)*?  model: (.*)$', t, re.M).group(1).strip('\"'))")
cp -r "$model" badmodel && echo "not json" > badmodel/tokenizer.json
expect2 "tokenizer.json not JSON" "badmodel/tokenizer.json: not valid JSON" --set learner.model="$PWD/badmodel"
echo "learner_ranks_test: OK"
