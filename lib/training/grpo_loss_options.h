// The GRPO loss's options and their names in the configuration (grpo_loss.h has the
// formulas). No LibTorch: the trainer's options and the config code include this.
#ifndef R1RL_LIB_TRAINING_GRPO_LOSS_OPTIONS_H_
#define R1RL_LIB_TRAINING_GRPO_LOSS_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace r1rl::learner {

enum class KlEstimator { kK1, kK2, kK3 };
enum class LossAggregation { kTokenMean, kSeqMeanTokenMean, kSeqMeanTokenSumNorm };

// "k1", "k2", "k3"; "token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm".
absl::StatusOr<KlEstimator> ParseKlEstimator(const std::string& name);
absl::StatusOr<LossAggregation> ParseLossAggregation(const std::string& name);
const char* KlEstimatorName(KlEstimator estimator);
const char* LossAggregationName(LossAggregation aggregation);

struct GrpoLossOptions {
  double eps_low = 0.2;   // clip range below 1: [1 - eps_low, ...]
  double eps_high = 0.2;  // above 1: [..., 1 + eps_high]; > eps_low is DAPO's clip-higher
  double beta = 0.0;      // KL coefficient (0: no reference needed)
  KlEstimator kl_estimator = KlEstimator::kK3;
  bool kl_in_loss = true;  // false: the KL is folded into the reward instead (KlPenalty)
  LossAggregation aggregation = LossAggregation::kSeqMeanTokenMean;
  int64_t max_response_length = 0;  // seq-mean-token-sum-norm's constant (> 0 there)
  double tis_cap = 0.0;             // 0: off
  bool sequence_ratio = false;      // GSPO
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_GRPO_LOSS_OPTIONS_H_
