#!/usr/bin/env bash
# The embedded demo end to end, shortened: R1-Zero-style GRPO from a briefly pre-trained
# base must raise the reward; the run folder must hold what users read; the default path
# (the shipped base model, cold start, GRPO) must lift held-out accuracy. Then the bad-input
# contracts of `r1rl demo` and `r1rl sft`: exit code 2 and a message naming the key, line or
# tensor. Usage: demo_test.sh <r1rl> <source dir>
set -euo pipefail
r1rl=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit2 <text the message must contain> <command...>
expect_exit2() {
  local want=$1
  shift
  set +e
  "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit code $rc (want 2) from: $* :: $(cat "$work/err")"
  grep -qF -- "$want" "$work/err" || fail "message lacks '$want': $(cat "$work/err")"
}

# --- A short demo: weak base (60 pre-training steps), no SFT, 14 GRPO steps.
"$r1rl" demo --zero --run-dir "$work/run" --steps 14 \
  --set demo.pretrain_steps=60 --set demo.eval_every=14 \
  --set demo.test_problems=64 --set demo.validation_problems=32 --set demo.base_checkpoint= \
  > "$work/demo.log" 2>&1 || { cat "$work/demo.log"; fail "demo exited non-zero"; }
cat "$work/demo.log"
for f in config.yaml metrics.jsonl plot.svg summary.txt checkpoints/final/model.safetensors \
         checkpoints/final/optimizer.safetensors checkpoints/final/tokenizer.json \
         checkpoints/base/config.json; do
  [ -s "$work/run/$f" ] || fail "run folder lacks $f"
done
python3 - "$work/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in rows if "reward" in r]
assert len(steps) == 14, f"{len(steps)} GRPO steps logged"
for key in ("step", "reward", "reward/format", "reward/accuracy", "response_length", "kl",
            "logprob_gap_mean", "clip_frac_high", "grad_norm", "lr", "entropy"):
    assert all(key in r for r in steps), f"metrics.jsonl lacks {key}"
evals = [r for r in rows if "heldout_accuracy" in r]
assert evals[0]["step"] == 0 and evals[-1]["step"] == 14, "held-out evaluated first and last"
first = sum(r["reward"] for r in steps[:4]) / 4
last = sum(r["reward"] for r in steps[-4:]) / 4
print(f"reward: first 4 steps {first:.3f}, last 4 steps {last:.3f}")
assert last > first + 0.05, f"reward did not rise: {first:.3f} -> {last:.3f}"
PY

# --- The default path, shortened: shipped base, cold-start SFT, 10 GRPO steps. GRPO selects
# the written scratchpad, so held-out greedy accuracy must jump (measured: 22.7% -> 89.1%).
(cd "$src" && "$r1rl" demo --run-dir "$work/full" --steps 10 --set demo.test_problems=128 \
  --set demo.validation_problems=32) > "$work/full.log" 2>&1 \
  || { cat "$work/full.log"; fail "default demo exited non-zero"; }
grep -E "loading the base model|step 0:|10/10" "$work/full.log"
python3 - "$work/full/metrics.jsonl" <<'PY'
import json, sys
evals = [json.loads(l) for l in open(sys.argv[1])]
evals = [r for r in evals if "heldout_accuracy" in r]
first, last = evals[0], evals[-1]
print(f"held-out accuracy {first['heldout_accuracy']:.3f} -> {last['heldout_accuracy']:.3f}, "
      f"scratchpad {first['heldout_scratchpad_share']:.2f} -> {last['heldout_scratchpad_share']:.2f}")
assert last["step"] == 10
assert last["heldout_accuracy"] >= first["heldout_accuracy"] + 0.2, "held-out accuracy did not jump"
assert last["heldout_format"] >= 0.95, f"format {last['heldout_format']}"
PY

# --- Bad input: exit code 2, the key / line / tensor named.
expect_exit2 "grpo.no_such_key" "$r1rl" demo --set grpo.no_such_key=1
expect_exit2 "generation.num_samples" "$r1rl" demo --set generation.num_samples=-4
expect_exit2 "grpo.eps_low" "$r1rl" demo --set grpo.eps_low=1.0
expect_exit2 "k9" "$r1rl" demo --set grpo.kl_estimator=k9
expect_exit2 "demo.base_checkpoint = $work/nowhere" "$r1rl" demo --base "$work/nowhere"
expect_exit2 "demo.mix_direct" "$r1rl" demo --set demo.mix_direct=0.9
expect_exit2 "another model shape" "$r1rl" demo --run-dir "$work/shape" \
  --base "$src/tests/fixtures/model/qwen2_tiny"

printf '{"prompt": "1+1=", "response": "2"}\nnot json\n' > "$work/bad.jsonl"
expect_exit2 "bad.jsonl line 2: not valid JSON" \
  "$r1rl" sft --model "$work/run/checkpoints/final" --data "$work/bad.jsonl" --out "$work/sft"
printf '{"prompt": "1+1="}\n' > "$work/nofield.jsonl"
expect_exit2 "line 1: missing field \"response\"" \
  "$r1rl" sft --model "$work/run/checkpoints/final" --data "$work/nofield.jsonl" --out "$work/sft"
# A good file trains and writes a loadable model.
printf '{"prompt": "<bos>1+1=", "response": "<think></think><answer>2</answer>"}\n' > "$work/good.jsonl"
"$r1rl" sft --model "$work/run/checkpoints/final" --data "$work/good.jsonl" --out "$work/sft" \
  --set prompt.format=raw --set sft.steps=3 --set sft.batch_size=2 > "$work/sft.log"
[ "$(wc -l < "$work/sft.log")" = 3 ] || fail "sft printed $(wc -l < "$work/sft.log") metric lines"
"$r1rl" generate --model "$work/sft" --format raw --prompt "<bos>1+1=" --max-new-tokens 4 --greedy > /dev/null
echo "demo_test: OK"
