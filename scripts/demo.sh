#!/usr/bin/env bash
# `make demo`: what r1rl does today, end to end on this machine.
#   1. r1rl doctor: dependencies, the BLAS in use and its measured GEMM rate;
#   2. the real Qwen2.5 tokenizer on a MATH-500 problem (../shared/data);
#   3. a tiny Qwen2-architecture model (random weights, real 151,936-token vocabulary)
#      written as a Hugging Face checkpoint, then batched sampling from it with the
#      R1-Zero prompt template: JSON lines with behaviour log-probs.
# GRPO training of the built-in model (reward rising in minutes) lands with issue 4.
set -euo pipefail
build=${1:-build}
r1rl="$build/bin/r1rl"
data="$(cd "$(dirname "$0")/.." && pwd)/../shared/data"
work="$build/demo"
mkdir -p "$work"

echo "== r1rl doctor"
"$r1rl" doctor || echo "(doctor: see the warning above)"

echo; echo "== tokenizing a MATH-500 problem with the Qwen2.5 tokenizer"
problem=$(head -n 1 "$data/math500/test.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["problem"].splitlines()[0])')
echo "text: $problem"
ids=$(printf '%s\n' "$problem" | "$r1rl" tokenize --tokenizer "$data/tokenizers/qwen2.5/tokenizer.json")
echo "ids:  $ids"
echo -n "back: "; printf '%s\n' "$ids" | "$r1rl" tokenize --tokenizer "$data/tokenizers/qwen2.5/tokenizer.json" --decode

echo; echo "== a tiny random Qwen2 model, saved as safetensors, sampled 4 times"
"$r1rl" init-model --config "$data/tokenizers/qwen2.5/config.tiny.json" \
  --tokenizer "$data/tokenizers/qwen2.5/tokenizer.json" --out "$work/qwen2-tiny" --seed 1
"$r1rl" generate --model "$work/qwen2-tiny" --prompt "$problem" --format r1-zero \
  --num-samples 4 --max-new-tokens 24 --temperature 1.0 --seed 7 \
  | python3 -c '
import json, sys
for line in sys.stdin:
    c = json.loads(line)
    print("sample %d: %d tokens, finish=%s, mean behaviour logprob %.2f, text %r" % (
        c["sample_index"], len(c["token_ids"]), c["finish_reason"],
        sum(c["logprobs"]) / len(c["logprobs"]), c["text"][:60]))'
