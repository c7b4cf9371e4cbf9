#!/usr/bin/env python3
"""One GRPO optimizer step of TRL's GRPOTrainer on CPU, on the model shape of bench/grpo_step_bench.

A reference point for r1rl's `bench/grpo_step_bench` on the same machine: the same Qwen2 shape
(151,936-token vocabulary, hidden 256, intermediate 1024, 6 layers, 4 heads / 2 KV heads of
head_dim 64, tied embeddings, random weights, float32), 8 prompts x G = 8 completions of 128 new
tokens per optimizer step, KL to a reference at beta 0.001, one gradient step per generation.
Not part of `make test`; it needs a Python environment of its own (nothing of r1rl's build).

Setup (PyPI only; torch from PyPI is the CUDA build, which runs on CPU as well):

    python3 -m venv /work/trlvenv
    /work/trlvenv/bin/pip install torch transformers trl datasets accelerate

Run with (the versions it was written and smoke-tested against):

    torch==2.15.0  transformers==5.25.0  trl==1.16.0  datasets==5.2.0  accelerate==1.16.0

Usage:

    /work/trlvenv/bin/python tools/trl_grpo_step.py [--steps N] [--prompts-per-step P]
        [--num-generations G] [--max-completion-length T] [--vocab-size V] [--hidden-size H]
        [--layers L] [--grad-accum A] [--threads N] [--beta B] [--completion-only-lm-head]

    Full shape (the defaults):  /work/trlvenv/bin/python tools/trl_grpo_step.py --steps 3
    Tiny smoke run:             /work/trlvenv/bin/python tools/trl_grpo_step.py --hidden-size 64 \
                                    --layers 1 --max-completion-length 8 --steps 2

What it does: builds a Qwen2ForCausalLM from a Qwen2Config (torch.manual_seed(0), random init),
saves it with save_pretrained to a temporary directory and hands TRL that path (TRL loads the
policy and, since beta > 0, a second copy as the reference from it). Tokenizer: the real
Qwen2.5 tokenizer of /work/shared/data/tokenizers/qwen2.5. Prompts: GSM8K train questions in
the DeepSeek-R1-Zero plain-text format (no chat template), exactly steps x prompts-per-step of
them, so one epoch of TRL's sampler is exactly --steps optimizer steps and every prompt is used
once. Reward: within each group of G completions, completion k gets k % 2 (every group has
non-zero advantages, so the backward always runs); the reward function checks that TRL hands
it group-contiguous batches (G consecutive completions share a prompt), as TRL's RepeatSampler
and its `rewards.view(-1, num_generations)` assume.

How a TRL step maps onto "8 prompts x G=8, 128 new tokens, one optimizer step": with
per_device_train_batch_size = P x G = 64, gradient_accumulation_steps = 1,
steps_per_generation = 1 (so generation_batch_size = 64) and num_iterations = 1, each
optimizer step is one `Trainer.training_step`, in which TRL (in `_prepare_inputs`) tokenizes
the 64 prompts, samples all 64 completions in one batched `model.generate` call (left-padded
prompts, KV cache, min_new_tokens = max_new_tokens so EOS never ends one early), runs the
reference model over prompt + completion (no old-policy forward: on-policy with one gradient
step per generation, TRL uses the detached current log-probs), computes rewards and
advantages, then one forward + backward of the policy over the 64 sequences (TRL also computes
the per-token entropy, for logging) and one AdamW step. The step time measured here
(on_step_begin to on_step_end) includes all of that. `--grad-accum A` splits the same 64
completions into A micro-batches of 64 / A (still one generation and one optimizer step).
TRL's defaults that differ from plain TrainingArguments are overridden: gradient_checkpointing
False (TRL's default is True, which would recompute the forward in the backward), bf16 False.

CPU caveat (TRL 1.16): TRL patches the policy and the reference with a "fused LM head" that
computes log-probs in [4096 tokens x 32768 vocab] tiles without materializing the logits. On
CUDA/XPU with Triton it projects only the positions whose label is kept (the completion); on
CPU it projects EVERY position of prompt + completion (left padding included) and runs the
tile math as plain torch ops, each a fresh 512 MB temporary (much of the time shows up as
system time: page faults). With ~150-token prompts and 128 new tokens that is ~2.5x the LM-head
work of scoring the completion only, in the reference forward, the policy forward and its
backward. That is what stock TRL does on CPU and what the default run measures;
`--completion-only-lm-head` flips only that row choice (TRL's own `compact` path, still torch
ops on CPU) to show how much of the gap it is.

Output: per-step seconds, with a split into sampling (TRL's `_generate`), scoring (the rest of
`_generate_and_score_completions`: reference forward, rewards, advantages) and learning (the
policy forward + backward + optimizer step), then one line
    TRL_RESULT {"steps": [...], "median_step_s": ..., "median_excl_first_s": ..., ...}
and one line TRL_PHASES {...} with the per-step split.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

DEFAULT_TOKENIZER_DIR = "/work/shared/data/tokenizers/qwen2.5"
DEFAULT_GSM8K = "/work/shared/data/gsm8k/train.jsonl"

R1_ZERO_PREFIX = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process "
    "here </think> <answer> answer here </answer>. User: "
)
R1_ZERO_SUFFIX = ". Assistant:"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3, help="optimizer steps (max_steps)")
    p.add_argument("--prompts-per-step", type=int, default=8)
    p.add_argument("--num-generations", type=int, default=8, help="G, completions per prompt")
    p.add_argument("--max-completion-length", type=int, default=128, help="new tokens")
    p.add_argument("--vocab-size", type=int, default=151936)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--intermediate-size", type=int, default=0, help="0: 4 x hidden size")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--beta", type=float, default=0.001, help="KL coefficient (0: no reference)")
    p.add_argument("--learning-rate", type=float, default=3e-6)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument(
        "--grad-accum",
        type=int,
        default=1,
        help="micro-batches per optimizer step (one generation of P x G completions either way)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0 = default")
    p.add_argument(
        "--completion-only-lm-head",
        action="store_true",
        help="not stock TRL: on CPU, project only the completion positions through the LM head "
        "(what TRL does on CUDA/XPU with Triton) instead of every prompt + completion position",
    )
    p.add_argument("--tokenizer-dir", default=DEFAULT_TOKENIZER_DIR)
    p.add_argument("--gsm8k", default=DEFAULT_GSM8K)
    args = p.parse_args(argv)
    completions = args.prompts_per_step * args.num_generations
    if args.grad_accum < 1 or completions % args.grad_accum != 0:
        p.error(f"--grad-accum must divide prompts-per-step x num-generations ({completions})")
    if args.hidden_size % args.heads != 0:
        p.error("--hidden-size must be a multiple of --heads")
    return args


def load_tokenizer(path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:  # noqa: BLE001 - fall back to the bare tokenizer.json
        print(f"AutoTokenizer.from_pretrained({path}) failed ({e!r}); using tokenizer.json")
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(path, "tokenizer.json"))
        tok.eos_token = "<|im_end|>"
    if tok.pad_token is None:
        tok.pad_token = "<|endoftext|>" if "<|endoftext|>" in tok.get_vocab() else tok.eos_token
    tok.padding_side = "left"
    return tok


def load_prompts(path, n):
    prompts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            question = json.loads(line)["question"]
            prompts.append(R1_ZERO_PREFIX + question + R1_ZERO_SUFFIX)
            if len(prompts) == n:
                break
    if len(prompts) < n:
        sys.exit(f"{path} has only {len(prompts)} questions, {n} needed")
    return prompts


def build_checkpoint(args, tok, out_dir):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    heads = args.heads
    config_kwargs = dict(
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size or 4 * args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=heads,
        num_key_value_heads=args.kv_heads,
        tie_word_embeddings=True,
        max_position_embeddings=4096,
        bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    # Qwen2.5's rope theta, as grpo_step_bench's shape (no effect on speed). transformers >= 5
    # takes it in rope_parameters, older versions as rope_theta.
    try:
        config = Qwen2Config(
            **config_kwargs, rope_parameters={"rope_type": "default", "rope_theta": 1e6}
        )
    except TypeError:
        config = Qwen2Config(**config_kwargs, rope_theta=1e6)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    n_params = sum(p.numel() for p in model.parameters())  # tied embedding counted once
    head_dim = args.hidden_size // heads
    print(
        f"model: Qwen2ForCausalLM vocab {args.vocab_size}, hidden {args.hidden_size}, "
        f"intermediate {config.intermediate_size}, layers {args.layers}, heads {heads}/"
        f"{args.kv_heads} kv (head_dim {head_dim}), tied embeddings, float32: "
        f"{n_params:,} parameters ({n_params / 1e6:.2f}M)"
    )
    model.save_pretrained(out_dir)
    del model
    return n_params


def main(argv=None):
    args = parse_args(argv)

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    import datasets
    import transformers
    import trl
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "datasets": datasets.__version__,
    }
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    P, G, T = args.prompts_per_step, args.num_generations, args.max_completion_length
    completions_per_step = P * G

    tok = load_tokenizer(args.tokenizer_dir)
    prompts = load_prompts(args.gsm8k, args.steps * P)
    dataset = datasets.Dataset.from_list([{"prompt": p} for p in prompts])

    # ---- GRPOConfig: one generation of P x G completions = one optimizer step -----------------
    fields = set(GRPOConfig.__dataclass_fields__)
    work_dir = tempfile.TemporaryDirectory(prefix="trl_grpo_step_")
    ckpt_dir = os.path.join(work_dir.name, "model")
    build_checkpoint(args, tok, ckpt_dir)

    cfg = dict(
        output_dir=os.path.join(work_dir.name, "out"),
        per_device_train_batch_size=completions_per_step // args.grad_accum,
        gradient_accumulation_steps=args.grad_accum,
        num_generations=G,
        max_completion_length=T,
        temperature=args.temperature,
        beta=args.beta,
        learning_rate=args.learning_rate,
        bf16=False,
        fp16=False,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        max_steps=args.steps,
        seed=0,
        gradient_checkpointing=False,  # TRL's default is True
        disable_tqdm=True,
        model_init_kwargs={"dtype": "float32"},
    )
    if "activation_checkpointing" in fields:  # transformers >= 5: gradient_checkpointing's new name
        cfg["activation_checkpointing"] = False
    if "use_cpu" in fields:
        cfg["use_cpu"] = True
    else:
        cfg["no_cuda"] = True
    if "steps_per_generation" in fields:
        cfg["steps_per_generation"] = args.grad_accum  # generation_batch_size = P x G
    if "num_iterations" in fields:
        cfg["num_iterations"] = 1
    if "loss_type" in fields:
        cfg["loss_type"] = "grpo"
    if "generation_kwargs" in fields:
        # Every completion runs the full T new tokens (EOS suppressed), as r1rl's ignore_eos.
        cfg["generation_kwargs"] = {"min_new_tokens": T}
    if "max_prompt_length" in fields:
        cfg["max_prompt_length"] = None  # no prompt truncation (GSM8K prompts are < 512 anyway)
    config = GRPOConfig(**cfg)
    print(
        "GRPOConfig: per_device_train_batch_size %s, gradient_accumulation_steps %s, "
        "generation_batch_size %s, steps_per_generation %s, num_iterations %s, num_generations %s, "
        "loss_type %s, beta %s, scale_rewards %s, activation_checkpointing %s, max_grad_norm %s, "
        "optim %s, lr_scheduler %s, generation_kwargs %s"
        % tuple(
            getattr(config, k, "n/a")
            for k in (
                "per_device_train_batch_size",
                "gradient_accumulation_steps",
                "generation_batch_size",
                "steps_per_generation",
                "num_iterations",
                "num_generations",
                "loss_type",
                "beta",
                "scale_rewards",
                "activation_checkpointing",
                "max_grad_norm",
                "optim",
                "lr_scheduler_type",
                "generation_kwargs",
            )
        )
    )
    gen_batch = getattr(config, "generation_batch_size", None)
    if gen_batch is not None and gen_batch != completions_per_step:
        sys.exit(f"generation_batch_size {gen_batch} != P x G = {completions_per_step}")

    # ---- reward: k % 2 within each group; checks group contiguity ------------------------------
    prompts_seen = []  # one entry per group, in the order TRL scored them

    def alternating_reward(prompts, completions, **kwargs):
        n = len(prompts)
        if n % G != 0:
            raise RuntimeError(f"reward batch of {n} is not a whole number of groups of {G}")
        for i in range(n):
            if prompts[i] != prompts[i - i % G]:
                raise RuntimeError(
                    f"reward batch is not group-contiguous: completion {i} has another prompt than "
                    f"completion {i - i % G} (the first of its group)"
                )
        prompts_seen.extend(prompts[::G])
        return [float(i % G % 2) for i in range(n)]

    # ---- timing ---------------------------------------------------------------------------------
    phase = {"generate": 0.0, "generate_and_score": 0.0}

    class TimedGRPOTrainer(GRPOTrainer):
        pass

    def timed(name, method):
        def wrapper(self, *a, **kw):
            t0 = time.perf_counter()
            try:
                return method(self, *a, **kw)
            finally:
                phase[name] += time.perf_counter() - t0

        return wrapper

    if hasattr(GRPOTrainer, "_generate"):
        TimedGRPOTrainer._generate = timed("generate", GRPOTrainer._generate)
    if hasattr(GRPOTrainer, "_generate_and_score_completions"):
        TimedGRPOTrainer._generate_and_score_completions = timed(
            "generate_and_score", GRPOTrainer._generate_and_score_completions
        )

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.steps, self.phases, self.logs = [], [], []
            self._t0 = None

        def on_step_begin(self, args_, state, control, **kw):
            for k in phase:
                phase[k] = 0.0
            self._t0 = time.perf_counter()

        def on_step_end(self, args_, state, control, **kw):
            dt = time.perf_counter() - self._t0
            gen, gas = phase["generate"], phase["generate_and_score"]
            split = {
                "sample_s": round(gen, 4),
                "score_s": round(gas - gen, 4),
                "learn_s": round(dt - gas, 4),
            }
            self.steps.append(dt)
            self.phases.append(split)
            print(
                f"step {state.global_step}: {dt:.3f} s (sampling {gen:.3f} s, reference "
                f"forward + rewards {gas - gen:.3f} s, policy forward + backward + optimizer "
                f"{dt - gas:.3f} s)",
                flush=True,
            )

        def on_log(self, args_, state, control, logs=None, **kw):
            if logs and "completions/mean_length" in logs:
                self.logs.append(dict(logs))

    lm_head_note = "stock TRL"
    if args.completion_only_lm_head:
        import trl.trainer.utils as trl_utils

        if not hasattr(trl_utils, "_use_triton"):
            sys.exit("--completion-only-lm-head: this TRL has no trl.trainer.utils._use_triton")
        use_triton = trl_utils._use_triton
        # Only the fused LM head's choice of rows changes (its `compact` path); the kernel module
        # keeps its own _use_triton, so the tiles still run as torch ops on CPU.
        trl_utils._use_triton = lambda device: device.type == "cpu" or use_triton(device)
        lm_head_note = "patched: completion positions only"
    print(f"fused LM head rows: {lm_head_note}")

    timer = StepTimer()
    trainer = TimedGRPOTrainer(
        model=ckpt_dir,
        reward_funcs=alternating_reward,
        args=config,
        train_dataset=dataset,
        processing_class=tok,
        callbacks=[timer],
    )
    print(
        f"loss_type {getattr(trainer, 'loss_type', getattr(config, 'loss_type', 'n/a'))}, "
        f"reference model: {'yes' if getattr(trainer, 'ref_model', None) is not None else 'no'}, "
        f"device {config.device}, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    trainer.train()
    work_dir.cleanup()

    # ---- results --------------------------------------------------------------------------------
    prompt_lens = [len(ids) for ids in tok(prompts_seen)["input_ids"]] if prompts_seen else [0]
    if len(prompts_seen) != args.steps * P:
        print(f"warning: {len(prompts_seen)} prompts scored, {args.steps * P} expected")
    print(
        f"prompts used: {len(prompts_seen)}, prompt tokens mean "
        f"{statistics.mean(prompt_lens):.1f}, max {max(prompt_lens)}"
    )
    comp_lens = [lg["completions/mean_length"] for lg in timer.logs]
    comp_mean = statistics.mean(comp_lens) if comp_lens else float("nan")
    print(
        f"completion tokens (TRL completions/mean_length per step): {comp_lens}; "
        f"min {[lg.get('completions/min_length') for lg in timer.logs]}"
    )
    steps = timer.steps
    result = {
        "steps": [round(s, 4) for s in steps],
        "median_step_s": round(statistics.median(steps), 4),
        "median_excl_first_s": round(statistics.median(steps[1:] if len(steps) > 1 else steps), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": torch.get_num_threads(),
        "prompt_tokens_mean": round(statistics.mean(prompt_lens), 2),
        "completion_tokens_mean": round(comp_mean, 2),
        "torch": versions["torch"],
        "transformers": versions["transformers"],
        "trl": versions["trl"],
    }
    print("TRL_PHASES " + json.dumps({"phases": timer.phases}))
    print("TRL_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
