// Supervised fine-tuning of a loaded policy on {"prompt","response"} rows: what `r1rl sft`
// and the pipeline's `sft` stage run. Keys: sft.steps, sft.batch_size, sft.lr, optim.*,
// grpo.micro_batch_size, generation.seed, prompt.* (docs/configuration.md).
//
// Batches are drawn epoch by epoch, each epoch a shuffle fixed by (seed, epoch), so step N's
// batch depends on nothing but the data and N: with a checkpoint folder, a killed run resumes
// from its last checkpoint and ends with the same weights as a run that was never stopped.
#ifndef R1RL_SERVICES_PIPELINE_SFT_RUN_H_
#define R1RL_SERVICES_PIPELINE_SFT_RUN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "services/config/config.h"
#include "services/learner/rollout.h"
#include "services/tokenizer/prompt_template.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::tokenizer {
class Tokenizer;
}

namespace r1rl::pipeline {

struct SftRun {
  std::string data;            // JSONL {"prompt", "response"}
  std::string out;             // the tuned model: config.json, safetensors, optimizer, tokenizer
  std::string tokenizer_path;  // copied into `out`
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
  std::string checkpoint_dir;    // "" = no checkpoints, no resume
  int64_t checkpoint_every = 0;  // steps (0: none)
  // Called after every step with its metrics ("step", "loss", "lr", ...).
  std::function<void(const learner::Metrics&)> on_step;
  // Called once when the run resumes from a checkpoint, with its step.
  std::function<void(int64_t)> on_resume;
};

// Trains `policy` in place and writes it to run.out. Returns the last step's metrics.
// InvalidArgument naming the key (sft.steps = 0) or the row (a row longer than the model's
// context).
absl::StatusOr<learner::Metrics> RunSft(const config::Config& cfg, model::Policy* policy,
                                        const tokenizer::Tokenizer& tok, const SftRun& run);

}  // namespace r1rl::pipeline

#endif  // R1RL_SERVICES_PIPELINE_SFT_RUN_H_
