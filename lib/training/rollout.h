// Rollout: one sampled completion as the learner receives it (torch-free). The rollout
// workers fill everything up to `reward`; the learner computes `advantage`.
#ifndef R1RL_LIB_TRAINING_ROLLOUT_H_
#define R1RL_LIB_TRAINING_ROLLOUT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace r1rl::learner {

struct Rollout {
  int64_t group_id = 0;  // completions of one prompt share it
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> completion_ids;    // the stop token included
  std::vector<float> behaviour_logprobs;  // one per completion id, at the sampling temperature
  bool truncated = false;                 // finished by max_new_tokens (finish_reason length)
  int64_t policy_version = 0;             // learner step whose weights sampled it
  double reward = 0.0;                    // total, after shaping
  std::map<std::string, double> reward_components;  // "format", "accuracy", ...
  double advantage = 0.0;                           // set by the learner
};

// Where a data-parallel rank's rollouts sit in the step's whole batch: rows
// [offset, offset + its count) of `total` (total 0: the rollouts are the whole batch).
struct BatchShard {
  int64_t offset = 0;
  int64_t total = 0;
};

// Per-step scalars: name -> value, written as one JSON object per step.
using Metrics = std::map<std::string, double>;

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_ROLLOUT_H_
