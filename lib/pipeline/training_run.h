// What a training stage (sft_run.h, grpo_run.h) reads and writes, and the two steps they
// share: when to checkpoint, and writing the trained model.
#ifndef R1RL_LIB_PIPELINE_TRAINING_RUN_H_
#define R1RL_LIB_PIPELINE_TRAINING_RUN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "lib/tokenizer/prompt_template.h"
#include "lib/training/rollout.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::learner {
class Optimizer;
}

namespace r1rl::pipeline {

struct TrainingRun {
  std::string data;  // sft: {"prompt","response"} rows; rl: {"prompt","reward","id"} prompts
  std::string out;   // the trained model: config.json, safetensors, optimizer, tokenizer
  std::string tokenizer_path;  // copied into `out`
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
  std::string checkpoint_dir;    // "" = no checkpoints, no resume
  int64_t checkpoint_every = 0;  // steps (0: none)
  int64_t checkpoint_keep = 3;   // the newest step-<N> checkpoints kept
  // Called after every step with its metrics ("step", "loss", "lr", ...).
  std::function<void(const learner::Metrics&)> on_step;
  // Called once when the run resumes from a checkpoint, with its step.
  std::function<void(int64_t)> on_resume;
};

// Whether to checkpoint after `done` of `total` steps (never after the last: the model is
// written then).
bool CheckpointDue(const TrainingRun& run, int64_t done, int64_t total);

// Writes the policy, the optimizer state and the tokenizer into run.out.
absl::Status SaveTrainedModel(const TrainingRun& run, const model::Policy& policy,
                              const learner::Optimizer& optimizer);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_TRAINING_RUN_H_
