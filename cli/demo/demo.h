// The embedded demo (`r1rl demo`, `make demo`): on one CPU machine, in minutes, a small
// built-in model learns to add 3-digit numbers better under rule-based rewards.
//
// Stages, each printed as it runs:
//  1. base model: pre-training on the task's text (a mixture in which the written
//     scratchpad is a minority), or loading the base checkpoint `--pretrain` wrote;
//  2. cold-start SFT on a few hundred "<think>…</think><answer>…</answer>" examples
//     (skipped with `zero`: R1-Zero, RL straight from the base model);
//  3. GRPO with format and accuracy rewards: a sampler thread, a grader thread and the
//     learner on the main thread, joined by bounded queues (the policy lag is bounded by
//     max_policy_lag; 0 keeps it on-policy).
// The run folder holds config.yaml, metrics.jsonl (one JSON object per step), checkpoints
// (safetensors weights + optimizer state), plot.svg and summary.txt.
#ifndef R1RL_CLI_DEMO_DEMO_H_
#define R1RL_CLI_DEMO_DEMO_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/demo/arithmetic_task.h"
#include "lib/config/config.h"
#include "lib/training/grpo_trainer.h"

namespace r1rl::demo {

struct DemoOptions {
  std::string run_dir = "runs/demo";
  bool zero = false;  // R1-Zero: no cold-start SFT
  uint64_t seed = 1;
  // Model (a Qwen2-shaped decoder).
  int64_t hidden_size = 128, layers = 3, heads = 4, intermediate_size = 344;
  // Stage 1.
  std::string base_checkpoint;  // load instead of pre-training when it exists
  int64_t pretrain_steps = 800, pretrain_batch = 128;
  double pretrain_lr = 3e-3;
  TextMix mix;
  // Stage 2.
  int64_t sft_examples = 300, sft_steps = 40, sft_batch = 32;
  double sft_lr = 5e-4;
  // Share of cold-start examples that write the scratchpad; the rest answer with an empty
  // <think></think>. All are correctly formatted: the cold start teaches the format, GRPO
  // finds out that thinking pays.
  double sft_scratchpad_share = 0.4;
  // Stage 3.
  int64_t grpo_steps = 90, prompts_per_step = 16, group_size = 8, max_new_tokens = 40;
  double temperature = 1.0;
  learner::GrpoTrainerOptions trainer;
  bool dynamic_sampling = false;
  int64_t max_resample_rounds = 4;    // dynamic sampling: extra draws per step at most
  int64_t overlong_cache_length = 0;  // DAPO soft overlong penalty window (0 = off)
  int64_t max_policy_lag = 0;
  int64_t eval_every = 10;
  bool select_best = true;  // final checkpoint = best validation accuracy
  int64_t test_size = 256, validation_size = 128;
};

// Reads the demo.*, grpo.*, optim.* and generation.* keys (see docs/configuration.md).
// InvalidArgument naming the key and value for out-of-range values.
absl::StatusOr<DemoOptions> DemoOptionsFromConfig(const config::Config& cfg);

struct DemoResult {
  double heldout_before = 0.0;  // test accuracy when GRPO starts
  double heldout_after = 0.0;   // test accuracy of the final checkpoint
  double format_after = 0.0;
  int64_t selected_step = 0;
  double seconds = 0.0;
};

// Runs the stages, printing progress to `out`. `config_yaml` is saved in the run folder.
absl::StatusOr<DemoResult> RunDemo(const DemoOptions& options, const std::string& config_yaml,
                                   std::ostream& out);

// Stage 1 alone: pre-trains the base model and saves it (model + tokenizer) into `dir`.
absl::Status PretrainBase(const DemoOptions& options, const std::string& dir, std::ostream& out);

}  // namespace r1rl::demo

#endif  // R1RL_CLI_DEMO_DEMO_H_
