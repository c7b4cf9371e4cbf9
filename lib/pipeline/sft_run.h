// Supervised fine-tuning of a loaded policy on {"prompt","response"} rows: what `r1rl sft`
// and the pipeline's `sft` stage run. Keys: sft.steps, sft.batch_size, sft.lr, optim.*,
// grpo.micro_batch_size, generation.seed, prompt.* (docs/configuration.md).
//
// Batches are drawn epoch by epoch, each epoch a shuffle fixed by (seed, epoch), so step N's
// batch depends on nothing but the data and N: with a checkpoint folder, a killed run resumes
// from its last checkpoint and ends with the same weights as a run that was never stopped.
#ifndef R1RL_LIB_PIPELINE_SFT_RUN_H_
#define R1RL_LIB_PIPELINE_SFT_RUN_H_

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/pipeline/training_run.h"
#include "lib/training/rollout.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::tokenizer {
class Tokenizer;
}

namespace r1rl::pipeline {

// Trains `policy` in place on the rows in run.data and writes it to run.out. Returns the last
// step's metrics. InvalidArgument naming the key (sft.steps = 0) or the row (a row longer than the
// model's context).
absl::StatusOr<learner::Metrics> RunSft(const config::Config& cfg, model::Policy* policy,
                                        const tokenizer::Tokenizer& tok, const TrainingRun& run);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_SFT_RUN_H_
