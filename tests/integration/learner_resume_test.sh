#!/usr/bin/env bash
# A learner killed with SIGKILL mid-run and started again on its run folder continues as if
# it had never stopped. Two local clusters (1 learner, 1 worker, 1 grader, real processes on
# loopback) train the same 10 steps with the same seed, with a KL reference that
# grpo.ref_update_every moves: run A is never interrupted; run B's learner is killed after
# step 5 and restarted, so it resumes from its newest checkpoint (step-4 or step-6). The per-step KL and the
# final weights of B must equal A's (the checkpoint carries weights, optimizer, step and the
# moved reference; sampling is seeded by policy version and dataset position). B's audit
# files keep the first run's lines and mark the restart; checkpoints are pruned to
# learner.checkpoint_keep.
set -euo pipefail
R1RL=$(readlink -f "$1")
BIN=$(dirname "$R1RL")
work=$(mktemp -d)
cd "$work"
cleanup() {
  "$R1RL" cluster down --name a >/dev/null 2>&1 || true
  "$R1RL" cluster down --name b >/dev/null 2>&1 || true
  [ -n "${LEARNER2:-}" ] && kill -9 "$LEARNER2" 2>/dev/null || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in runs/*/logs/*.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }
steps_done() { [ -f "runs/$1/metrics.jsonl" ] && grep -vc '"event"' "runs/$1/metrics.jsonl" || echo 0; }

SETS=(--set grpo.steps=10 --set grpo.beta=0.05 --set grpo.ref_update_every=2
      --set learner.checkpoint_every=2 --set learner.checkpoint_keep=2 --set grpo.max_policy_lag=0)

echo "== run A: 10 steps, never interrupted"
"$R1RL" cluster up --name a --workers 1 --graders 1 "${SETS[@]}" --wait > a.log 2>&1 || { cat a.log; fail "run A"; }
[ -f runs/a/checkpoints/final/state.json ] || fail "run A has no final checkpoint"

echo "== run B: the learner is killed with SIGKILL after step 5"
"$R1RL" cluster up --name b --workers 1 --graders 1 "${SETS[@]}" > b.log 2>&1 || { cat b.log; fail "cluster up b"; }
deadline=$((SECONDS + 300))
until [ "$(steps_done b)" -ge 5 ]; do
  [ $SECONDS -lt $deadline ] || fail "run B did not reach step 5"
  sleep 0.05
done
LPID=$(python3 -c "import json; print(json.load(open('runs/b/cluster.json'))['services'][0]['pid'])")
kill -9 "$LPID"
KILLED_AT=$(steps_done b)
echo "killed after step $KILLED_AT"
[ "$KILLED_AT" -lt 10 ] || fail "run B finished before the kill"
[ ! -f runs/b/checkpoints/final/state.json ] || fail "run B wrote a final checkpoint before the kill"
"$BIN/r1rl-learner" --config runs/b/config.yaml > runs/b/logs/learner-2.log 2>&1 &
LEARNER2=$!
set +e
wait "$LEARNER2"
CODE=$?
set -e
LEARNER2=
[ "$CODE" -eq 0 ] || fail "the restarted learner exited $CODE"
grep "resuming at step" runs/b/logs/learner-2.log || fail "the learner did not resume"
RESUMED=$(sed -n 's/^learner: resuming at step \([0-9]*\) .*/\1/p' runs/b/logs/learner-2.log)
[ "$RESUMED" -ge 4 ] && [ "$RESUMED" -le "$KILLED_AT" ] || fail "resumed at step '$RESUMED' after a kill at $KILLED_AT"
"$R1RL" cluster down --name b > /dev/null 2>&1 || true

python3 - "$KILLED_AT" "$RESUMED" <<'PY' || fail "resumed run differs"
import hashlib, json, os, sys
killed_at, resumed = int(sys.argv[1]), int(sys.argv[2])
def rows(path):
    return [json.loads(l) for l in open(path)]
def by_step(path):  # the last line of each step (a resumed run repeats the steps after its checkpoint)
    out = {}
    for r in rows(path):
        if "event" not in r:
            out[int(r["step"])] = r
    return out
a, b = by_step("runs/a/metrics.jsonl"), by_step("runs/b/metrics.jsonl")
assert sorted(a) == list(range(1, 11)) and sorted(b) == list(range(1, 11)), (sorted(a), sorted(b))
for s in range(1, 11):
    assert a[s]["kl"] == b[s]["kl"], f"step {s}: KL {a[s]['kl']} (uninterrupted) vs {b[s]['kl']} (resumed)"
    assert a[s]["loss"] == b[s]["loss"], f"step {s}: loss {a[s]['loss']} vs {b[s]['loss']}"
print("per-step KL equal:", " ".join(f"{a[s]['kl']:.3g}" for s in range(1, 11)))
assert max(a[s]["kl"] for s in range(5, 11)) > 0, "the KL never moved: the test would not see a lost reference"
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
wa, wb = sha("runs/a/checkpoints/final/model.safetensors"), sha("runs/b/checkpoints/final/model.safetensors")
assert wa == wb, f"final weights differ: {wa} vs {wb}"
print("final weights equal:", wa[:16])
for name in ("metrics.jsonl", "trained.jsonl"):
    lines = rows(f"runs/b/{name}")
    events = [i for i, r in enumerate(lines) if r.get("event") == "start"]
    assert len(events) == 1, f"{name}: {len(events)} restart marks"
    mark = lines[events[0]]
    assert mark["resumed_at_step"] == resumed, mark
    first = [r["step"] for r in lines[:events[0]]]
    assert len(first) >= killed_at and first == list(range(1, len(first) + 1)), f"{name}: the first run's lines were lost: {first}"
    after = [r["step"] for r in lines[events[0] + 1:]]
    assert after == list(range(resumed + 1, 11)), f"{name}: {after}"
steps = sorted(d for d in os.listdir("runs/b/checkpoints") if d.startswith("step-"))
assert steps == ["step-6", "step-8"], f"checkpoints kept: {steps}"
print("audit files marked and appended; checkpoints kept:", steps + ["final"])
PY
echo "learner_resume_test: OK"
