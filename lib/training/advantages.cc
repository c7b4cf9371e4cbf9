#include "lib/training/advantages.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace r1rl::learner {

absl::StatusOr<std::vector<double>> GroupAdvantages(absl::Span<const double> rewards,
                                                    int64_t group_size,
                                                    const AdvantageOptions& options) {
  if (group_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("group_size must be >= 1, got ", group_size));
  }
  if (rewards.size() % static_cast<size_t>(group_size) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rewards: ", rewards.size(), " values is not a whole number of groups of ", group_size));
  }
  std::vector<double> out(rewards.size());
  for (size_t start = 0; start < rewards.size(); start += group_size) {
    double mean = 0.0;
    for (int64_t i = 0; i < group_size; ++i) mean += rewards[start + i];
    mean /= static_cast<double>(group_size);
    double var = 0.0;
    for (int64_t i = 0; i < group_size; ++i) var += std::pow(rewards[start + i] - mean, 2);
    const double std = group_size > 1 ? std::sqrt(var / static_cast<double>(group_size - 1)) : 0.0;
    for (int64_t i = 0; i < group_size; ++i) {
      const double centred = rewards[start + i] - mean;
      out[start + i] = options.scale_rewards ? centred / (std + options.eps) : centred;
    }
  }
  return out;
}

bool GroupHasSignal(absl::Span<const double> group_rewards) {
  for (double r : group_rewards) {
    if (r != group_rewards.front()) return true;
  }
  return false;
}

double OverlongPenalty(int64_t length, int64_t max_length, int64_t cache_length) {
  if (cache_length <= 0) return 0.0;
  const int64_t expected = max_length - cache_length;
  if (length <= expected) return 0.0;
  if (length <= max_length) {
    return static_cast<double>(expected - length) / static_cast<double>(cache_length);
  }
  return -1.0;
}

}  // namespace r1rl::learner
