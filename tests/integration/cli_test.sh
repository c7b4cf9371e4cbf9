#!/usr/bin/env bash
# The r1rl command line's contracts, end to end on real files:
# tokenize/decode with the real Qwen2.5 tokenizer, init-model -> generate JSON lines,
# config overrides and errors that name the key. Usage: cli_test.sh <r1rl> <source dir>
set -euo pipefail
r1rl=$1
src=$2
data="$src/../shared/data"
tok="$data/tokenizers/qwen2.5/tokenizer.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# tokenize: one JSON array per line, and back.
out=$(printf 'Hello world\n你好\n' | "$r1rl" tokenize --tokenizer "$tok")
[ "$out" = $'[9707,1879]\n[108386]' ] || fail "tokenize gave: $out"
back=$(printf '%s\n' "$out" | "$r1rl" tokenize --tokenizer "$tok" --decode)
[ "$back" = $'Hello world\n你好' ] || fail "decode gave: $back"
# a bad line is reported by number, the rest still decodes, exit code 1
if printf '[9707]\nnot json\n' | "$r1rl" tokenize --tokenizer "$tok" --decode > "$work/d" 2> "$work/e"; then
  fail "decode of a bad line exited 0"
fi
grep -q "line 2" "$work/e" || fail "decode error does not name the line: $(cat "$work/e")"
[ "$(head -n1 "$work/d")" = "Hello" ] || fail "good line not decoded"

# init-model then generate: JSON lines with the documented fields.
"$r1rl" init-model --config "$data/tokenizers/qwen2.5/config.tiny.json" --tokenizer "$tok" \
  --out "$work/m" --seed 3 2> /dev/null
[ -f "$work/m/model.safetensors" ] && [ -f "$work/m/config.json" ] || fail "init-model wrote no checkpoint"
"$r1rl" generate --model "$work/m" --prompt "2+2=" --prompt "Name a colour." --num-samples 3 \
  --max-new-tokens 5 --seed 9 --format raw > "$work/g1" 2> /dev/null
"$r1rl" generate --model "$work/m" --prompt "2+2=" --prompt "Name a colour." --num-samples 3 \
  --max-new-tokens 5 --seed 9 --format raw > "$work/g2" 2> /dev/null
[ "$(wc -l < "$work/g1")" -eq 6 ] || fail "expected 6 completions, got $(wc -l < "$work/g1")"
cmp -s "$work/g1" "$work/g2" || fail "seeded generate is not reproducible"
python3 - "$work/g1" <<'PY' || fail "generate output does not keep its contract"
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    assert set(c) >= {"text", "token_ids", "logprobs", "finish_reason"}, c.keys()
    assert len(c["token_ids"]) == len(c["logprobs"]) <= 5
    assert c["finish_reason"] in ("stop", "length")
    assert all(lp <= 0 for lp in c["logprobs"])
PY
"$r1rl" generate --model "$work/m" --prompt "x" --greedy --max-new-tokens 3 > /dev/null 2>&1 \
  || fail "greedy generate failed"

# config: an unknown key is rejected by name; --docs matches the committed reference.
if "$r1rl" config --set generation.temprature=1 2> "$work/e"; then fail "unknown key accepted"; fi
grep -q "generation.temprature" "$work/e" || fail "unknown key not named: $(cat "$work/e")"
"$r1rl" config --docs | cmp -s - "$src/docs/configuration.md" || fail "docs/configuration.md is stale"
# a bad model folder is an error naming the file, not a crash
mkdir -p "$work/bad" && echo '{"model_type": "gpt2"}' > "$work/bad/config.json"
if "$r1rl" generate --model "$work/bad" --prompt x 2> "$work/e"; then fail "bad model accepted"; fi
grep -q "config.json" "$work/e" || fail "bad config error does not name the file: $(cat "$work/e")"
# Every bad input exits 2 and names the option or key and the value.
expect_exit2() {  # <what the error must name> <command...>
  local name=$1 rc=0
  shift
  "$@" > /dev/null 2> "$work/e" || rc=$?
  [ "$rc" -eq 2 ] || fail "$* exited $rc, not 2: $(cat "$work/e")"
  grep -qF -- "$name" "$work/e" || fail "$* does not name $name: $(cat "$work/e")"
}
expect_exit2 "generation.num_samples = -4" "$r1rl" config --set generation.num_samples=-4
expect_exit2 "generation.top_p = 1.5" "$r1rl" config --set generation.top_p=1.5
expect_exit2 "--k" "$r1rl" eval --k 0
expect_exit2 "/nonexistent" "$r1rl" generate --model /nonexistent --prompt x
expect_exit2 "--no-such-flag" "$r1rl" doctor --no-such-flag
cp -r "$work/m" "$work/trunc" && truncate -s 100000 "$work/trunc/model.safetensors"
expect_exit2 "model.safetensors" "$r1rl" generate --model "$work/trunc" --prompt x
cp -r "$work/m" "$work/badtok" && echo "not json" > "$work/badtok/tokenizer.json"
expect_exit2 "tokenizer.json" "$r1rl" generate --model "$work/badtok" --prompt x
"$r1rl" --help > /dev/null || fail "--help does not exit 0"
echo "cli_test: all checks passed"
