// A training stage's checkpoint inside its folder, so a killed stage resumes where it was:
// <dir>/model.safetensors (+ config.json), optimizer.safetensors, state.json {"step": N}.
// Written to <dir>.tmp and renamed over <dir>, so a kill mid-save leaves the previous
// checkpoint whole; state.json is written last, so a folder without it is not a checkpoint.
//
//   ASSIGN_OR_RETURN(int64_t step, LoadStageCheckpoint(dir, policy, &optimizer));  // 0: none
//   RETURN_IF_ERROR(SaveStageCheckpoint(dir, *policy, optimizer, step));
#ifndef R1RL_SERVICES_PIPELINE_STAGE_CHECKPOINT_H_
#define R1RL_SERVICES_PIPELINE_STAGE_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::learner {
class Optimizer;
}

namespace r1rl::pipeline {

// `reference`, when given, is saved too (<dir>/reference/): a KL reference that
// grpo.ref_update_every moves during the stage.
absl::Status SaveStageCheckpoint(const std::string& dir, const model::Policy& policy,
                                 const learner::Optimizer& optimizer, int64_t step,
                                 const model::Policy* reference = nullptr);

// The step the checkpoint in `dir` was taken at, its weights and optimizer state loaded;
// 0 (nothing loaded) when `dir` holds no checkpoint. FailedPrecondition when the checkpoint
// is of another model.
absl::StatusOr<int64_t> LoadStageCheckpoint(const std::string& dir, model::Policy* policy,
                                            learner::Optimizer* optimizer, model::Policy* reference = nullptr);

}  // namespace r1rl::pipeline

#endif  // R1RL_SERVICES_PIPELINE_STAGE_CHECKPOINT_H_
