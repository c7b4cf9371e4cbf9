#include "lib/training/grpo_loss.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "lib/status/status_macros.h"

namespace r1rl::learner {
namespace {

absl::Status CheckShape(const torch::Tensor& t, const char* name, const torch::Tensor& like) {
  if (!t.defined())
    return absl::InvalidArgumentError(absl::StrCat("GRPO loss: ", name, " is missing"));
  if (t.sizes() != like.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat("GRPO loss: ", name, " has shape ",
                                                   std::string(c10::str(t.sizes())), ", expected ",
                                                   std::string(c10::str(like.sizes()))));
  }
  return absl::OkStatus();
}

double Item(const torch::Tensor& t) { return t.detach().to(torch::kFloat64).item<double>(); }

}  // namespace

absl::StatusOr<KlEstimator> ParseKlEstimator(const std::string& name) {
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k2") return KlEstimator::kK2;
  if (name == "k3") return KlEstimator::kK3;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown KL estimator \"", name, "\" (expected k1, k2 or k3)"));
}

absl::StatusOr<LossAggregation> ParseLossAggregation(const std::string& name) {
  if (name == "token-mean") return LossAggregation::kTokenMean;
  if (name == "seq-mean-token-mean") return LossAggregation::kSeqMeanTokenMean;
  if (name == "seq-mean-token-sum-norm") return LossAggregation::kSeqMeanTokenSumNorm;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown loss aggregation \"", name,
                   "\" (expected token-mean, seq-mean-token-mean or seq-mean-token-sum-norm)"));
}

const char* KlEstimatorName(KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::kK1:
      return "k1";
    case KlEstimator::kK2:
      return "k2";
    case KlEstimator::kK3:
      return "k3";
  }
  return "?";
}

const char* LossAggregationName(LossAggregation aggregation) {
  switch (aggregation) {
    case LossAggregation::kTokenMean:
      return "token-mean";
    case LossAggregation::kSeqMeanTokenMean:
      return "seq-mean-token-mean";
    case LossAggregation::kSeqMeanTokenSumNorm:
      return "seq-mean-token-sum-norm";
  }
  return "?";
}

torch::Tensor KlEstimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs,
                         KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::kK1:
      return logprobs - ref_logprobs;
    case KlEstimator::kK2:
      return 0.5 * (logprobs - ref_logprobs).pow(2);
    case KlEstimator::kK3: {
      // Clamped as verl and TRL do: exp of a large log-ratio would overflow float32.
      torch::Tensor d = (ref_logprobs - logprobs).clamp(-20.0, 20.0);
      return torch::exp(d) - d - 1.0;
    }
  }
  return {};
}

absl::StatusOr<GrpoLossResult> GrpoLoss(const GrpoLossInputs& in, const GrpoLossOptions& opt) {
  if (!in.logprobs.defined() || in.logprobs.dim() != 2) {
    return absl::InvalidArgumentError("GRPO loss: logprobs must be a (B, T) tensor");
  }
  const torch::Tensor& l = in.logprobs;
  RETURN_IF_ERROR(CheckShape(in.behaviour_logprobs, "behaviour_logprobs", l));
  RETURN_IF_ERROR(CheckShape(in.mask, "mask", l));
  if (in.old_logprobs.defined()) RETURN_IF_ERROR(CheckShape(in.old_logprobs, "old_logprobs", l));
  const bool use_kl = opt.beta > 0.0 && opt.kl_in_loss;
  if (use_kl) RETURN_IF_ERROR(CheckShape(in.ref_logprobs, "ref_logprobs", l));
  if (!in.advantages.defined() || in.advantages.dim() != 1 || in.advantages.size(0) != l.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GRPO loss: advantages must have shape (", l.size(0), ")"));
  }
  if (opt.aggregation == LossAggregation::kSeqMeanTokenSumNorm && opt.max_response_length <= 0) {
    return absl::InvalidArgumentError(
        "GRPO loss: seq-mean-token-sum-norm needs max_response_length > 0");
  }

  const torch::Tensor mask = in.mask.to(l.scalar_type());
  const torch::Tensor old = (in.old_logprobs.defined() ? in.old_logprobs : in.behaviour_logprobs)
                                .detach()
                                .to(l.scalar_type());
  const torch::Tensor adv = in.advantages.to(l.scalar_type()).unsqueeze(1);  // (B, 1)
  const torch::Tensor seq_tokens = mask.sum(1).clamp_min(1.0);               // (B)

  torch::Tensor log_ratio = l - old;
  torch::Tensor ratio;
  if (opt.sequence_ratio) {
    // GSPO: one ratio per sequence (the geometric mean of its token ratios), carried by each
    // token so that the gradient is the token-level one scaled by it.
    torch::Tensor seq_log_ratio = (log_ratio * mask).sum(1) / seq_tokens;  // (B)
    ratio = torch::exp(seq_log_ratio.detach().unsqueeze(1) + l - l.detach());
  } else {
    ratio = torch::exp(log_ratio);
  }
  torch::Tensor clipped = torch::clamp(ratio, 1.0 - opt.eps_low, 1.0 + opt.eps_high);
  torch::Tensor surrogate = torch::min(ratio * adv, clipped * adv);
  torch::Tensor per_token = -surrogate;

  GrpoLossStats stats;
  if (in.old_logprobs.defined() && opt.tis_cap > 0.0) {
    torch::Tensor raw = torch::exp(old - in.behaviour_logprobs.to(l.scalar_type()));
    torch::Tensor weight = raw.clamp_max(opt.tis_cap);
    per_token = per_token * weight;
    torch::Tensor capped = (raw > opt.tis_cap).to(l.scalar_type());
    stats.tis_frac_capped = Item((capped * mask).sum() / mask.sum().clamp_min(1.0));
  }

  const double sequences =
      in.total_sequences > 0 ? in.total_sequences : static_cast<double>(l.size(0));
  auto aggregate = [&](const torch::Tensor& values) -> torch::Tensor {
    switch (opt.aggregation) {
      case LossAggregation::kTokenMean:
        return in.total_tokens > 0 ? (values * mask).sum() / in.total_tokens
                                   : (values * mask).sum() / mask.sum().clamp_min(1.0);
      case LossAggregation::kSeqMeanTokenMean:
        return ((values * mask).sum(1) / seq_tokens).sum() / sequences;
      case LossAggregation::kSeqMeanTokenSumNorm:
        return (values * mask).sum() / (sequences * static_cast<double>(opt.max_response_length));
    }
    return {};
  };

  torch::Tensor policy_loss = aggregate(per_token);
  torch::Tensor loss = policy_loss;
  torch::Tensor kl;
  if (in.ref_logprobs.defined()) {
    kl = KlEstimate(l, in.ref_logprobs.detach().to(l.scalar_type()), opt.kl_estimator);
    if (use_kl) loss = loss + opt.beta * aggregate(kl);
  }

  torch::NoGradGuard no_grad;
  const torch::Tensor denom = mask.sum().clamp_min(1.0);
  auto token_mean = [&](const torch::Tensor& v) { return Item((v.detach() * mask).sum() / denom); };
  stats.policy_loss = Item(policy_loss);
  if (kl.defined()) stats.kl = token_mean(kl);
  stats.clip_frac_low = token_mean(((adv < 0) & (ratio < 1.0 - opt.eps_low)).to(l.scalar_type()));
  stats.clip_frac_high = token_mean(((adv > 0) & (ratio > 1.0 + opt.eps_high)).to(l.scalar_type()));
  stats.ratio_mean = token_mean(ratio);
  stats.ratio_max = Item((ratio.detach() * mask).max());
  stats.tokens = Item(mask.sum());
  return GrpoLossResult{loss, stats};
}

}  // namespace r1rl::learner
