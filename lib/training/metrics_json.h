// One step's Metrics as one JSON line (metrics.jsonl): "step" first as an integer, then
// every finite value by name. Shared by the embedded demo and the learner service.
#ifndef R1RL_LIB_TRAINING_METRICS_JSON_H_
#define R1RL_LIB_TRAINING_METRICS_JSON_H_

#include <string>

#include "lib/training/rollout.h"

namespace r1rl::learner {

std::string MetricsJsonLine(const Metrics& m);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_METRICS_JSON_H_
