#include "lib/training/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace r1rl::learner {

absl::StatusOr<LrScheduleKind> ParseLrScheduleKind(const std::string& name) {
  if (name == "constant") return LrScheduleKind::kConstant;
  if (name == "cosine") return LrScheduleKind::kCosine;
  if (name == "linear") return LrScheduleKind::kLinear;
  return absl::InvalidArgumentError(absl::StrCat("unknown learning-rate schedule \"", name,
                                                 "\" (expected constant, cosine or linear)"));
}

double LrSchedule::At(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  if (kind == LrScheduleKind::kConstant || total_steps <= 0) return peak;
  const double start =
      std::max<double>(static_cast<double>(warmup_steps), decay_start * total_steps);
  const double span = std::max(1.0, static_cast<double>(total_steps) - start);
  const double progress = std::clamp((static_cast<double>(step) - start) / span, 0.0, 1.0);
  const double shape =
      kind == LrScheduleKind::kCosine ? 0.5 * (1.0 + std::cos(M_PI * progress)) : 1.0 - progress;
  return peak * (min_ratio + (1.0 - min_ratio) * shape);
}

}  // namespace r1rl::learner
