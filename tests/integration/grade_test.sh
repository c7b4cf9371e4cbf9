#!/usr/bin/env bash
# `r1rl grade` end to end: JSON rows of every reward kind in, one JSON line out per row, bad
# rows answered with an error line, exit code 2 when any row was bad; the plain-response
# mode; a bad config value exits 2 naming the key. Usage: grade_test.sh <r1rl>
set -euo pipefail
r1rl=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$work/rows.jsonl" <<'ROWS'
{"response": "<think>14/3 it is</think><answer>\\frac{14}{3}</answer>", "reward": {"kind": "math", "answer": "\\dfrac{14}{3}"}}
{"response": "<think>hm</think><answer>\\boxed{(x+1)^2}</answer>", "reward": {"kind": "math", "answer": "x^2+2x+1"}}
{"response": "So the answer is 5.", "reward": {"kind": "math", "answer": "6"}}
{"response": "<think>c</think><answer>Paris</answer>", "reward": {"kind": "exact", "answer": "paris"}}
{"response": "<think>c</think><answer>(B)</answer>", "reward": {"kind": "choice", "answer": "B"}}
{"response": "```python\nprint(sum(map(int, input().split())))\n```", "reward": {"kind": "code", "language": "python", "tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 6\n", "stdout": "12\n"}]}}
{"response": "```python\nwhile True: pass\n```", "reward": {"kind": "code", "language": "python", "tests": [{"stdin": "", "stdout": "1\n"}]}}
not json at all
{"response": "x", "reward": {"kind": "poem", "answer": "1"}}
{"reward": {"kind": "math", "answer": "1"}}
ROWS
set +e
"$r1rl" grade --set reward.code_cpu_seconds=1 < "$work/rows.jsonl" > "$work/out.jsonl" 2> "$work/err"
rc=$?
set -e
cat "$work/out.jsonl"
[ "$rc" = 2 ] || fail "exit code $rc, want 2 (three bad rows)"
python3 - "$work/out.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 10, f"{len(rows)} lines out for 10 in"
want = [2.0, 2.0, 0.0, 2.0, 2.0, 0.5, 0.0]
for i, w in enumerate(want):
    assert abs(rows[i]["reward"] - w) < 1e-9, f"row {i+1}: reward {rows[i]['reward']}, want {w}: {rows[i]}"
assert rows[1]["reason"].endswith("(cas)"), rows[1]
assert "CPU time limit" in rows[6]["reason"], rows[6]
assert rows[7]["error"] == "line 8: not a JSON object", rows[7]
assert "reward.kind" in rows[8]["error"] and "poem" in rows[8]["error"], rows[8]
assert "response" in rows[9]["error"], rows[9]
print("grade rows: OK")
PY
grep -q "3 of 10 lines could not be graded" "$work/err" || fail "stderr lacks the count: $(cat "$work/err")"

# Plain responses against one answer.
printf 'The answer is 0.5\n\\boxed{1/2}\nno idea\n' | "$r1rl" grade --kind math --answer '\frac12' \
  --set reward.format_weight=0 > "$work/plain.jsonl"
python3 - "$work/plain.jsonl" <<'PY'
import json, sys
rewards = [json.loads(l)["reward"] for l in open(sys.argv[1])]
assert rewards == [1.0, 1.0, 0.0], rewards
PY

# Bad configuration: exit 2, the key named.
set +e
echo '' | "$r1rl" grade --set reward.format_style=fancy 2> "$work/err2"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad reward.format_style: exit $rc"
grep -q "reward.format_style" "$work/err2" || fail "message lacks the key: $(cat "$work/err2")"
echo "grade_test: OK"
