// Group-relative advantages and the reward shaping that comes before them (torch-free).
//
// GRPO: completions come in groups of G per prompt; completion i of a group gets
//   A_i = (r_i - mean(r)) / (std(r) + eps)       (std with Bessel's correction, as TRL/verl)
//   A_i =  r_i - mean(r)                          with scale_rewards = false (Dr. GRPO)
// and every token of completion i shares A_i.
//
// Thread-safety: pure functions.
#ifndef R1RL_LIB_TRAINING_ADVANTAGES_H_
#define R1RL_LIB_TRAINING_ADVANTAGES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace r1rl::learner {

struct AdvantageOptions {
  bool scale_rewards = true;
  double eps = 1e-6;
};

// `rewards` holds whole groups, group-major (size a multiple of group_size).
// InvalidArgument when group_size < 1 or the size is not a multiple of it.
absl::StatusOr<std::vector<double>> GroupAdvantages(absl::Span<const double> rewards,
                                                    int64_t group_size,
                                                    const AdvantageOptions& options);

// True when the group's rewards are not all equal (it carries a learning signal). DAPO's
// dynamic sampling drops the others.
bool GroupHasSignal(absl::Span<const double> group_rewards);

// DAPO's soft overlong punishment for a completion of `length` tokens when at most
// `max_length` may be generated: 0 up to max_length - cache_length, then falling linearly to
// -1 at max_length, and -1 beyond. cache_length <= 0 disables it (returns 0).
double OverlongPenalty(int64_t length, int64_t max_length, int64_t cache_length);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_ADVANTAGES_H_
