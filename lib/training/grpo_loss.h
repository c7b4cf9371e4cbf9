// The GRPO policy loss for one mini-batch of completions, with the variants R1, Dr. GRPO,
// DAPO and GSPO use. All tensors are (B, T) over completion tokens (B completions, T the
// longest), float32 or float64; `mask` is 1 on tokens that count and 0 on padding.
//
// Per token t of completion i, with learner log-prob l (differentiable), the log-prob the
// ratio is taken against o (the behaviour policy's, or the learner's own recompute at the
// start of the step when `old_logprobs` is given), and advantage A_i:
//   rho      = exp(l - o)                                   (token ratio)
//            = sg(s_i) * exp(l - sg(l)),  s_i = exp(mean_t(l - o))   with sequence_ratio (GSPO)
//   surr     = min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A)
//   w        = min(exp(o - b), tis_cap)   truncated importance sampling (TIS), only when
//              `old_logprobs` is given and tis_cap > 0 (b: behaviour log-prob); else 1
//   kl       = k1: l - r,   k2: (l - r)^2 / 2,   k3: exp(r - l) - (r - l) - 1   (r: reference)
//   L_it     = -w * surr + beta * kl          (kl only when kl_in_loss and beta > 0)
// aggregated over the mini-batch as
//   token-mean               sum_it m L / sum_it m                         (DAPO)
//   seq-mean-token-mean      mean_i (sum_t m L / sum_t m)                  (GRPO)
//   seq-mean-token-sum-norm  sum_it m L / (B * max_response_length)        (Dr. GRPO)
// where the sums over i and the counts sum_it m and B run over the whole mini-batch: a part
// of it (a micro-batch, one rank's rows) passes the whole's counts (total_tokens,
// total_sequences) and gets its share, so a token-mean over all ranks' tokens is not
// mistaken for the mean of per-rank token-means.
// tools/fixtures/make_grpo_fixtures.py computes the same loss in PyTorch; grpo_loss_test
// matches loss and gradient to 1e-5.
//
// Thread-safety: stateless.
#ifndef R1RL_LIB_TRAINING_GRPO_LOSS_H_
#define R1RL_LIB_TRAINING_GRPO_LOSS_H_

#include <torch/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "lib/training/grpo_loss_options.h"

namespace r1rl::learner {

struct GrpoLossInputs {
  torch::Tensor logprobs;            // learner, requires grad
  torch::Tensor behaviour_logprobs;  // recorded by the sampler
  torch::Tensor old_logprobs;        // optional: learner's recompute before the update
  torch::Tensor ref_logprobs;        // needed when beta > 0 and kl_in_loss
  torch::Tensor mask;                // 0/1
  torch::Tensor advantages;          // (B)
  // The aggregation's denominators when this call holds part of a larger mini-batch (micro-
  // batches, data-parallel ranks): the whole mini-batch's token count (token-mean) and
  // sequence count (the two seq-mean forms). 0: this call's own. With them the loss is this
  // part's share, and the shares of all parts add up to the whole mini-batch's loss.
  double total_tokens = 0.0;
  double total_sequences = 0.0;
};

// Scalar diagnostics (token means over mask unless said otherwise), detached.
struct GrpoLossStats {
  double policy_loss = 0.0;     // the aggregated -w * surr
  double kl = 0.0;              // mean per-token KL (the chosen estimator)
  double clip_frac_low = 0.0;   // A < 0 and rho < 1 - eps_low (the clip is active)
  double clip_frac_high = 0.0;  // A > 0 and rho > 1 + eps_high
  double ratio_mean = 0.0;
  double ratio_max = 0.0;
  double tis_frac_capped = 0.0;  // tokens whose TIS weight hit the cap
  double tokens = 0.0;           // sum of mask
};

struct GrpoLossResult {
  torch::Tensor loss;  // scalar, differentiable w.r.t. inputs.logprobs
  GrpoLossStats stats;
};

// InvalidArgument (naming the tensor) when shapes disagree or a needed tensor is missing.
absl::StatusOr<GrpoLossResult> GrpoLoss(const GrpoLossInputs& inputs,
                                        const GrpoLossOptions& options);

// Per-token KL estimate between learner `logprobs` and `ref_logprobs`.
torch::Tensor KlEstimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs,
                         KlEstimator estimator);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_GRPO_LOSS_H_
