#!/usr/bin/env bash
# `r1rl pipeline` and `r1rl rejection-sample` on the shipped base model and the demo task:
#  1. a pipeline killed with SIGKILL in the middle of its RL stage resumes from the stage's
#     checkpoint and finishes with the same outputs (model weights, rejection-sampled rows,
#     merged set, eval answers) as an uninterrupted run of the same seed; run again, it
#     skips every finished stage (the RL stage with DAPO's dynamic sampling: the prompt cursor
#     that runs ahead of step x prompts_per_step is part of its checkpoint);
#  2. bad pipeline files (unknown stage kind, a cycle, a missing input) fail with the stage
#     and field named, exit code 2, nothing run;
#  3. rejection sampling keeps only correct, well-formed rows, at most M per prompt, no
#     duplicates, with provenance, and its acceptance file adds up.
set -euo pipefail
R1RL=$(readlink -f "$1")
SRC=$(readlink -f "$2")
work=$(mktemp -d)
trap 'pkill -9 -f "$work/p.yaml" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
"$R1RL" demo --write-data data > /dev/null
cat > p.yaml <<YAML
pipeline:
  name: t
  run_dir: \${run_dir}
  base_model: $SRC/assets/demo-base
  vars: {run_dir: a}
  set:
    prompt.format: raw
    generation.max_new_tokens: 40
    generation.num_samples: 4
    generation.max_batch: 256
    grpo.prompts_per_step: 4
    grpo.mini_batches: 2
    sft.batch_size: 8
    runtime.threads: 1
  stages:
    - {name: cold_start, kind: sft, data: data/cold_start.jsonl, checkpoint_every: 2, set: {sft.steps: 6}}
    - {name: rl, kind: rl, prompts: data/prompts.jsonl, checkpoint_every: 2,
       set: {grpo.steps: 10, grpo.beta: 0.04, grpo.ref_update_every: 1, grpo.dynamic_sampling: true}}
       # the reference moves and dynamic sampling moves the prompt cursor: the checkpoint carries both
    - {name: rejection, kind: rejection_sample, prompts: data/prompts.jsonl, samples: 4, keep: 2, limit: 24}
    - name: mix
      kind: merge
      inputs: ["@rejection", {data: data/cold_start.jsonl, weight: 0.5}]
    - {name: sft2, kind: sft, model: "@base", data: "@mix", checkpoint_every: 2, set: {sft.steps: 4}}
    - {name: eval, kind: eval, data: data/heldout.jsonl, k: 4, limit: 24}
YAML

echo "== uninterrupted run"
"$R1RL" pipeline --config p.yaml --var run_dir=a > a.log 2>&1 || { cat a.log; exit 1; }
tail -8 a.log

echo "== run b, killed with SIGKILL inside the rl stage"
"$R1RL" pipeline --config p.yaml --var run_dir=b > b1.log 2>&1 &
pid=$!
rl_checkpoint() { ls -d b/rl/checkpoint/step-*/state.json 2>/dev/null | head -1; }
for _ in $(seq 1 1200); do
  [ -n "$(rl_checkpoint)" ] && break
  sleep 0.05
done
[ -n "$(rl_checkpoint)" ] || { cat b1.log; echo "FAIL: no rl checkpoint appeared"; exit 1; }
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -f b/cold_start/manifest.json ] || { echo "FAIL: cold_start should have finished before the kill"; exit 1; }
[ ! -f b/rl/manifest.json ] || { echo "FAIL: rl finished before the kill; the test must kill it mid-stage"; exit 1; }
echo "killed at rl checkpoint step $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$(rl_checkpoint)")"
"$R1RL" pipeline --config p.yaml --var run_dir=b > b2.log 2>&1 || { cat b2.log; exit 1; }
grep -q "finished in an earlier run" b2.log || { cat b2.log; echo "FAIL: cold_start was not skipped"; exit 1; }
grep -q "resuming at step" b2.log || { cat b2.log; echo "FAIL: rl did not resume from its checkpoint"; exit 1; }
grep "resuming at step" b2.log

python3 - <<'PY'
import json
stages = ["cold_start", "rl", "rejection", "mix", "sft2", "eval"]
compare = {"cold_start": ["model/model.safetensors"], "rl": ["model/model.safetensors", "model/optimizer.safetensors"],
           "rejection": ["data.jsonl"], "mix": ["data.jsonl"], "sft2": ["model/model.safetensors"], "eval": ["problems.jsonl"]}

def rows(path):  # the rows with provenance.model's folder (a/... or b/...) left out: its weights hash stays
    out = []
    for line in open(path):
        r = json.loads(line)
        if "provenance" in r:
            r["provenance"]["model"] = r["provenance"]["model"].split("@")[1]
        out.append(r)
    return out

for s in stages:
    ma, mb = (json.load(open(f"{run}/{s}/manifest.json")) for run in "ab")
    assert ma["status"] == mb["status"] == "finished", s
    for f in compare[s]:
        if f == "data.jsonl":
            assert rows(f"a/{s}/{f}") == rows(f"b/{s}/{f}"), f"{s}/{f}: rows differ between the runs"
            continue
        ha, hb = ma["outputs"].get(f), mb["outputs"].get(f)
        assert ha and ha == hb, f"{s}/{f}: {ha} (uninterrupted) != {hb} (killed and resumed)"
print("killed-and-resumed run == uninterrupted run: " + ", ".join(f"{s}/{f}" for s in stages for f in compare[s]))
rl = json.load(open("b/rl/manifest.json"))
assert rl["metrics"]["resumed_at_step"] > 0, rl["metrics"]
steps = [json.loads(l)["step"] for l in open("b/rl/metrics.jsonl")]
assert steps == list(range(1, 11)), steps  # one line per step, none repeated after the resume
dropped = [json.loads(l)["groups_dropped"] for l in open("a/rl/metrics.jsonl")]
print(f"dynamic sampling in the rl stage: {sum(dropped):.0f} groups without signal dropped and redrawn over 10 steps")
PY

"$R1RL" pipeline --config p.yaml --var run_dir=b > b3.log 2>&1
[ "$(grep -c 'finished in an earlier run' b3.log)" = 6 ] || { cat b3.log; echo "FAIL: a third run should skip all 6 stages"; exit 1; }
echo "a third run skips all 6 finished stages"

echo "== bad pipeline files"
expect_error() {  # name, expected text, yaml
  printf '%s\n' "$3" > bad.yaml
  set +e
  "$R1RL" pipeline --config bad.yaml > bad.out 2> bad.err
  rc=$?
  set -e
  [ "$rc" = 2 ] || { cat bad.err; echo "FAIL ($1): exit $rc, not 2"; exit 1; }
  grep -qF -- "$2" bad.err || { cat bad.err; echo "FAIL ($1): no \"$2\" in the error"; exit 1; }
  [ ! -d bad_run ] || { echo "FAIL ($1): a stage ran"; exit 1; }
  echo "$1: $(cat bad.err)"
}
head="pipeline:
  run_dir: bad_run
  base_model: $SRC/assets/demo-base
  stages:"
expect_error "unknown stage" 'stage a.kind: unknown stage kind "distill"' "$head
    - {name: a, kind: distill, data: data/cold_start.jsonl}"
expect_error "cycle" "the stages form a cycle: a -> b -> a" "$head
    - {name: a, kind: sft, data: \"@b\"}
    - {name: b, kind: rejection_sample, model: \"@a\", prompts: data/prompts.jsonl}"
expect_error "missing input" "stage r.prompts = data/nope.jsonl: no such file" "$head
    - {name: s, kind: sft, data: data/cold_start.jsonl}
    - {name: r, kind: rl, prompts: data/nope.jsonl}"
expect_error "unknown reference" 'stage s.data: "@nothing" names no stage' "$head
    - {name: s, kind: sft, data: \"@nothing\"}"
expect_error "bad config key" "grpo.stepz" "$head
    - {name: s, kind: rl, prompts: data/prompts.jsonl, set: {grpo.stepz: 3}}"

echo "== rejection-sample"
"$R1RL" rejection-sample --model "$SRC/assets/demo-base" --prompts data/prompts.jsonl --limit 16 --samples 8 --keep 3 \
  --out rs --set prompt.format=raw --set generation.max_new_tokens=40 > rs.txt 2> rs.err || { cat rs.err; exit 1; }
cat rs.txt
python3 - <<'PY'
import json, re
acc = json.load(open("rs/acceptance.json"))
rows = [json.loads(l) for l in open("rs/data.jsonl")]
prompts = {json.loads(l)["id"]: json.loads(l) for l in list(open("data/prompts.jsonl"))[:16]}
assert acc["samples"] == 16 * 8 and len(acc["per_prompt"]) == 16
assert acc["kept"] == len(rows) == sum(p["kept"] for p in acc["per_prompt"])
assert acc["accepted"] == sum(p["accepted"] for p in acc["per_prompt"])
assert abs(acc["acceptance_rate"] - acc["accepted"] / acc["samples"]) < 1e-12
assert all(p["kept"] <= 3 and p["kept"] <= p["accepted"] - p["duplicates"] for p in acc["per_prompt"])
seen = set()
for r in rows:
    pid = r["provenance"]["prompt_id"]
    ref = prompts[pid]["reward"]["answer"]
    m = re.fullmatch(r"<think>(.*)</think><answer>(\d+)</answer>", r["response"], re.S)
    assert m and m.group(2) == ref, r            # well formed and correct
    assert r["prompt"] == prompts[pid]["prompt"]
    assert r["provenance"]["reward"]["accuracy"] == 1.0 and r["provenance"]["model"].count("@") == 1
    key = (pid, " ".join(r["response"].split()))
    assert key not in seen, r                     # deduplicated
    seen.add(key)
rejected = sum(acc["rejected_by"].values())
assert acc["samples"] - acc["accepted"] <= rejected
print(f"rejection-sample: {acc['accepted']}/{acc['samples']} accepted, {acc['kept']} rows, all correct and well formed")
PY
echo "PASS"
