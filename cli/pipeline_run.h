// Runs a parsed pipeline for `r1rl pipeline` and `r1rl demo --pipeline`: threads from the
// pipeline's keys, the stages, the closing table. Returns the exit code.
#ifndef R1RL_CLI_PIPELINE_RUN_H_
#define R1RL_CLI_PIPELINE_RUN_H_

#include <string>

#include "lib/pipeline/pipeline_spec.h"

namespace r1rl::cli {

int RunPipelineSpec(const pipeline::PipelineSpec& spec, const std::string& command);

}  // namespace r1rl::cli

#endif  // R1RL_CLI_PIPELINE_RUN_H_
