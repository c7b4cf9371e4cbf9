#!/usr/bin/env bash
# `make demo`: the embedded demo. A small built-in model learns 3-digit addition on this CPU
# with rule-based rewards: pre-training (or the base model in assets/ when present), cold-start
# SFT, then GRPO with a sampler thread, a grader thread and the learner. Every step prints a
# line; runs/demo/ gets metrics.jsonl, plot.svg, summary.txt and the checkpoints.
# Extra arguments go to `r1rl demo` (e.g. `make demo ARGS=--zero`).
set -euo pipefail
build=${1:-build}
shift || true
r1rl="$build/bin/r1rl"

"$r1rl" doctor > /dev/null || echo "(r1rl doctor reports a problem; run it to see)"
exec "$r1rl" demo "$@"
