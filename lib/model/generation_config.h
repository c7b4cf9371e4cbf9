// GenerationOptions from the generation.* keys (docs/configuration.md), shared by
// `r1rl generate` and the rollout worker.
#ifndef R1RL_LIB_MODEL_GENERATION_CONFIG_H_
#define R1RL_LIB_MODEL_GENERATION_CONFIG_H_

#include "lib/config/config.h"
#include "lib/model/generator.h"

namespace r1rl::model {

GenerationOptions GenerationOptionsFromConfig(const config::Config& cfg);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_GENERATION_CONFIG_H_
