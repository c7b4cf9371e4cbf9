// GRPO in one process: the pipeline's `rl` stage. Each step takes the next
// grpo.prompts_per_step rows of the prompt set (epoch after epoch, in file order), samples
// generation.num_samples responses for each with the current policy, grades them with the
// reward grader's rules (reward.*) and takes one GrpoTrainer step. On-policy and sequential:
// what the cluster spreads over rollout workers and graders (docs/services.md) runs here in
// turn, so a stage's result depends only on its inputs and seed.
//
// Step N's prompts and sampling seed depend on nothing but N: with a checkpoint folder, a
// killed run resumes from its last checkpoint and ends with the same weights as a run that
// was never stopped. The KL reference is the stage's input model; when
// grpo.ref_update_every moves it, the checkpoint carries it.
#ifndef R1RL_LIB_PIPELINE_GRPO_RUN_H_
#define R1RL_LIB_PIPELINE_GRPO_RUN_H_

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

// Trains on the prompts in run.data. Keys: grpo.steps, grpo.prompts_per_step, grpo.*, optim.*,
// generation.*, reward.*, prompt.*.
absl::StatusOr<learner::Metrics> RunGrpo(const config::Config& cfg, model::Policy* policy,
                                         const tokenizer::Tokenizer& tok, const TrainingRun& run);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_GRPO_RUN_H_
