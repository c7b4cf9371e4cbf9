// The learner's options from the one configuration format: grpo.* and optim.* keys
// (docs/configuration.md). Shared by `r1rl demo`, `r1rl sft` and the learner service.
#ifndef R1RL_LIB_TRAINING_LEARNER_CONFIG_H_
#define R1RL_LIB_TRAINING_LEARNER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/training/grpo_trainer.h"

namespace r1rl::learner {

// AdamW, clipping and schedule from optim.*, with the peak learning rate read from `lr_key`
// ("optim.lr" for GRPO, "sft.lr" for SFT) and the schedule spanning `total_steps`.
absl::StatusOr<OptimizerOptions> OptimizerOptionsFromConfig(const config::Config& cfg,
                                                            const std::string& lr_key,
                                                            int64_t total_steps);

// Every GrpoTrainerOptions field from grpo.*, optim.* and generation.*, range-checked
// (ValidateGrpoOptions): InvalidArgument naming the key and value.
absl::StatusOr<GrpoTrainerOptions> GrpoOptionsFromConfig(const config::Config& cfg);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_LEARNER_CONFIG_H_
