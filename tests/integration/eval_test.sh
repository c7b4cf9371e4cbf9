#!/usr/bin/env bash
# `r1rl eval` on the shipped base model and the demo task: eval.json agrees with
# problems.jsonl (pass@1 is the mean of the per-problem means, cons@k the share of correct
# majorities, pass@k >= pass@1), the same seed gives the same report, and a set the model
# cannot take fails with the problem named.
set -euo pipefail
R1RL=$(readlink -f "$1")
SRC=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$R1RL" cluster prompts --out prompts.jsonl --count 24 --seed 7 > /dev/null
for run in a b; do
  "$R1RL" eval --model "$SRC/assets/demo-base" --data prompts.jsonl --k 8 --format raw --max-new-tokens 40 \
    --batch 5 --out "$run" > "$run.txt" 2> "$run.err"
done
cat a.txt
python3 - <<'PY'
import json
s = json.load(open("a/eval.json"))["overall"]
rows = [json.loads(l) for l in open("a/problems.jsonl")]
assert len(rows) == 24 and all(len(r["answers"]) == 8 and len(r["correct"]) == 8 for r in rows)
p1 = sum(sum(r["correct"]) / 8 for r in rows) / 24
assert abs(s["pass@1"] - p1) < 1e-9, (s["pass@1"], p1)
cons = sum(r["cons_correct"] for r in rows) / 24
assert abs(s["cons@8"] - cons) < 1e-9
for r in rows:  # the majority is the most frequent extracted answer (exact text, the demo's integers)
    votes = {}
    for a in r["answers"]:
        if a: votes[a] = votes.get(a, 0) + 1
    assert r["majority_votes"] == max(votes.values(), default=0), r
    assert r["cons_correct"] == (r["majority"] == r["reference"]), r
assert s["pass@8"] >= s["pass@1"] and 0 <= s["cons@8"] <= 1
print(f"pass@1 {s['pass@1']:.3f}  cons@8 {s['cons@8']:.3f}  pass@8 {s['pass@8']:.3f}: consistent with problems.jsonl")
assert json.load(open("a/eval.json"))["overall"] == json.load(open("b/eval.json"))["overall"], "not reproducible"
PY
if "$R1RL" eval --model "$SRC/assets/demo-base" --data "$SRC/../shared/data/math500/test.jsonl" --limit 2 --k 2 \
    --max-new-tokens 16 --out m > m.txt 2> m.err; then
  echo "FAIL: MATH-500 prompts longer than the demo model's context were accepted"; exit 1
fi
grep -q "problem test/precalculus/807.json: .*max_position_embeddings" m.err || { cat m.err; exit 1; }
echo "eval_test: OK"
