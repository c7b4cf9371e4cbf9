// jemalloc's options, compiled into every binary that links r1rl::malloc
// (cmake/R1rlDependencies.cmake). Freed pages stay with the process for reuse: no decay of
// dirty or muzzy pages back to the OS. A GRPO step frees and reallocates the same large
// tensors (logits chunks, activations) op after op; with jemalloc's default 10 s decay the
// issue-24 step still took 7.9M page faults and 25 s of system time in its learning phase,
// with no decay 0.23M and 10 s (bench/grpo_step_bench, docs/benchmarks.md). The resident
// memory therefore stays at the step's peak. MALLOC_CONF in the environment overrides this.
extern "C" {
__attribute__((used, visibility("default"))) const char* malloc_conf =
    "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
