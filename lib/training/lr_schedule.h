// Learning-rate schedules: linear warmup, then constant, cosine or linear decay (torch-free).
//
//   LrSchedule s{.peak = 3e-6, .warmup_steps = 10, .total_steps = 1000, .kind = kCosine};
//   double lr = s.At(step);   // step counts optimizer steps from 0
#ifndef R1RL_LIB_TRAINING_LR_SCHEDULE_H_
#define R1RL_LIB_TRAINING_LR_SCHEDULE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace r1rl::learner {

enum class LrScheduleKind { kConstant, kCosine, kLinear };

// "constant", "cosine", "linear".
absl::StatusOr<LrScheduleKind> ParseLrScheduleKind(const std::string& name);

struct LrSchedule {
  double peak = 1e-6;
  int64_t warmup_steps = 0;  // lr rises linearly from peak/warmup to peak
  int64_t total_steps = 0;   // cosine/linear reach peak * min_ratio here
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double min_ratio = 0.0;  // floor of the decay, as a fraction of peak
  // Decay starts at this fraction of total_steps (0: right after warmup).
  double decay_start = 0.0;

  double At(int64_t step) const;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_LR_SCHEDULE_H_
