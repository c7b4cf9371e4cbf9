#include "lib/training/grpo_trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "lib/model/causal_lm.h"
#include "lib/status/status_macros.h"
#include "lib/training/grpo_loss.h"
#include "lib/training/packed_batch.h"

namespace r1rl::learner {
namespace {

absl::Status Bad(const char* field, double value, const char* rule) {
  return absl::InvalidArgumentError(absl::StrCat("grpo.", field, " = ", value, ": ", rule));
}

}  // namespace

absl::Status ValidateGrpoOptions(const GrpoTrainerOptions& o) {
  if (!(o.loss.eps_low > 0.0 && o.loss.eps_low < 1.0))
    return Bad("eps_low", o.loss.eps_low, "must be in (0, 1)");
  if (!(o.loss.eps_high > 0.0)) return Bad("eps_high", o.loss.eps_high, "must be > 0");
  if (o.loss.beta < 0.0) return Bad("beta", o.loss.beta, "must be >= 0");
  if (o.loss.tis_cap < 0.0) return Bad("tis_cap", o.loss.tis_cap, "must be >= 0 (0 = off)");
  if (o.loss.aggregation == LossAggregation::kSeqMeanTokenSumNorm &&
      o.loss.max_response_length <= 0) {
    return Bad("max_response_length", static_cast<double>(o.loss.max_response_length),
               "must be > 0 with loss_aggregation seq-mean-token-sum-norm");
  }
  if (o.ppo_epochs < 1) return Bad("ppo_epochs", static_cast<double>(o.ppo_epochs), "must be >= 1");
  if (o.mini_batches < 1)
    return Bad("mini_batches", static_cast<double>(o.mini_batches), "must be >= 1");
  if (o.micro_batch_size < 0)
    return Bad("micro_batch_size", static_cast<double>(o.micro_batch_size), "must be >= 0");
  if (o.ref_update_every < 0)
    return Bad("ref_update_every", static_cast<double>(o.ref_update_every), "must be >= 0");
  if (!(o.temperature > 0.0)) return Bad("temperature", o.temperature, "must be > 0");
  if (!(o.optimizer.schedule.peak > 0.0))
    return Bad("lr", o.optimizer.schedule.peak, "must be > 0");
  if (o.optimizer.weight_decay < 0.0)
    return Bad("weight_decay", o.optimizer.weight_decay, "must be >= 0");
  return absl::OkStatus();
}

void CopyWeights(const model::Policy& from, model::Policy* to) {
  torch::NoGradGuard no_grad;
  auto src = from.lm().named_parameters(true);
  auto dst = to->lm().named_parameters(true);
  for (const auto& item : src) dst[item.key()].copy_(item.value());
}

GrpoTrainer::GrpoTrainer(model::Policy* policy, const GrpoTrainerOptions& options)
    : policy_(policy), options_(options) {
  optimizer_ = std::make_unique<Optimizer>(policy->lm(), options.optimizer);
}

absl::StatusOr<std::unique_ptr<GrpoTrainer>> GrpoTrainer::Create(
    model::Policy* policy, const GrpoTrainerOptions& options) {
  RETURN_IF_ERROR(ValidateGrpoOptions(options));
  std::unique_ptr<GrpoTrainer> trainer(new GrpoTrainer(policy, options));
  if (options.loss.beta > 0.0) {
    model::PolicyOptions popts;
    popts.device = policy->lm().OutputEmbedding().device().str();
    ASSIGN_OR_RETURN(trainer->reference_, model::Policy::RandomInit(policy->config(), 0, popts));
    CopyWeights(*policy, trainer->reference_.get());
    for (auto& p : trainer->reference_->lm().parameters()) p.requires_grad_(false);
  }
  return trainer;
}

absl::StatusOr<Metrics> GrpoTrainer::Step(std::vector<Rollout>* rollouts, int64_t group_size) {
  const auto start = std::chrono::steady_clock::now();
  if (rollouts->empty()) return absl::InvalidArgumentError("GRPO step: no rollouts");
  for (size_t i = 0; i < rollouts->size(); ++i) {
    const Rollout& r = (*rollouts)[i];
    if (r.prompt_ids.empty() || r.completion_ids.empty() ||
        r.behaviour_logprobs.size() != r.completion_ids.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GRPO step: rollout ", i, " has ", r.prompt_ids.size(), " prompt ids, ",
          r.completion_ids.size(), " completion ids and ", r.behaviour_logprobs.size(),
          " behaviour log-probs (need non-empty prompt/completion and one log-prob per id)"));
    }
  }
  model::CausalLMImpl& lm = policy_->lm();
  const torch::Device device = lm.OutputEmbedding().device();
  const GrpoLossOptions& lopt = options_.loss;
  const bool need_ref = lopt.beta > 0.0;

  auto refs_of = [&](const std::vector<int64_t>& rows) {
    std::vector<SequenceRef> refs;
    refs.reserve(rows.size());
    for (int64_t i : rows) {
      const Rollout& r = (*rollouts)[i];
      refs.push_back({&r.prompt_ids, &r.completion_ids, &r.behaviour_logprobs});
    }
    return refs;
  };

  // Rewards (with the KL folded in when asked) -> advantages.
  std::vector<double> rewards(rollouts->size());
  for (size_t i = 0; i < rollouts->size(); ++i) rewards[i] = (*rollouts)[i].reward;
  Metrics m;
  if (need_ref && !lopt.kl_in_loss) {
    torch::NoGradGuard no_grad;
    std::vector<int64_t> all(rollouts->size());
    std::iota(all.begin(), all.end(), 0);
    PackedBatch batch = Pack(refs_of(all), options_.pad_id, device);
    torch::Tensor ref = ScoreTokens(reference_->lm(), batch, options_.temperature, false).logprobs;
    torch::Tensor kl =
        (KlEstimate(batch.behaviour, ref, lopt.kl_estimator) * batch.loss_mask).sum(1);
    for (size_t i = 0; i < rewards.size(); ++i) rewards[i] -= lopt.beta * kl[i].item<double>();
    m["kl_reward_penalty"] = lopt.beta * kl.mean().item<double>();
  }
  ASSIGN_OR_RETURN(std::vector<double> adv,
                   GroupAdvantages(rewards, group_size, options_.advantage));
  int64_t zero_var = 0;
  double adv_abs = 0.0;
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    if (!GroupHasSignal(absl::MakeConstSpan(rewards).subspan(g, group_size))) ++zero_var;
  }
  for (size_t i = 0; i < adv.size(); ++i) {
    (*rollouts)[i].advantage = adv[i];
    adv_abs += std::abs(adv[i]);
  }
  m["zero_variance_groups"] = static_cast<double>(zero_var) / (rewards.size() / group_size);
  m["advantage_abs_mean"] = adv_abs / adv.size();

  // Mini-batches over a shuffled order.
  std::vector<int64_t> order(rollouts->size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options_.seed * 1000003 + steps_);
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t mb = std::max<int64_t>(1, std::min(options_.mini_batches, n));
  double sum_loss = 0, sum_policy = 0, sum_kl = 0, sum_ent = 0, sum_clo = 0, sum_chi = 0,
         sum_norm = 0, tokens = 0;
  int64_t updates = 0;
  bool first = true;
  for (int64_t epoch = 0; epoch < options_.ppo_epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t k = 0; k < mb; ++k) {
      const int64_t begin = k * n / mb, end = (k + 1) * n / mb;
      const int64_t micro = options_.micro_batch_size > 0 ? options_.micro_batch_size : end - begin;
      optimizer_->ZeroGrad();
      double mb_loss = 0, mb_policy = 0, mb_kl = 0, mb_ent = 0, mb_clo = 0, mb_chi = 0, mb_tok = 0;
      for (int64_t s = begin; s < end; s += micro) {
        std::vector<int64_t> rows(order.begin() + s, order.begin() + std::min(end, s + micro));
        PackedBatch batch = Pack(refs_of(rows), options_.pad_id, device);
        torch::Tensor adv_t = torch::empty({static_cast<int64_t>(rows.size())}, torch::kFloat32);
        for (size_t i = 0; i < rows.size(); ++i) adv_t[i] = static_cast<float>(adv[rows[i]]);
        auto scored = ScoreTokens(lm, batch, options_.temperature, true);
        GrpoLossInputs in;
        in.logprobs = scored.logprobs;
        in.behaviour_logprobs = batch.behaviour;
        in.mask = batch.loss_mask;
        in.advantages = adv_t.to(device);
        if (need_ref && lopt.kl_in_loss) {
          torch::NoGradGuard no_grad;
          in.ref_logprobs =
              ScoreTokens(reference_->lm(), batch, options_.temperature, false).logprobs;
        }
        ASSIGN_OR_RETURN(GrpoLossResult res, GrpoLoss(in, lopt));
        const double share = static_cast<double>(rows.size()) / static_cast<double>(end - begin);
        (res.loss * share).backward();
        torch::NoGradGuard no_grad;
        const double t = res.stats.tokens;
        if (first) {
          torch::Tensor gap = (scored.logprobs.detach() - batch.behaviour).abs() * batch.loss_mask;
          m["logprob_gap_mean"] = (gap.sum() / batch.loss_mask.sum().clamp_min(1)).item<double>();
          m["logprob_gap_max"] = gap.max().item<double>();
        }
        mb_loss += res.loss.item<double>() * share;
        mb_policy += res.stats.policy_loss * share;
        mb_kl += res.stats.kl * t;
        mb_ent += (scored.entropy * batch.loss_mask).sum().item<double>();
        mb_clo += res.stats.clip_frac_low * t;
        mb_chi += res.stats.clip_frac_high * t;
        mb_tok += t;
      }
      first = false;
      if (reducer_ != nullptr) RETURN_IF_ERROR(reducer_->Reduce(*policy_));
      sum_norm += optimizer_->Step();
      sum_loss += mb_loss;
      sum_policy += mb_policy;
      const double d = std::max(1.0, mb_tok);
      sum_kl += mb_kl / d;
      sum_ent += mb_ent / d;
      sum_clo += mb_clo / d;
      sum_chi += mb_chi / d;
      tokens += mb_tok;
      ++updates;
    }
  }
  m["lr"] = optimizer_->current_lr();
  ++steps_;
  if (reference_ && options_.ref_update_every > 0 && steps_ % options_.ref_update_every == 0) {
    CopyWeights(*policy_, reference_.get());
    m["ref_updated"] = 1.0;
  }
  const double u = static_cast<double>(updates);
  m["loss"] = sum_loss / u;
  m["policy_loss"] = sum_policy / u;
  m["kl"] = sum_kl / u;
  m["entropy"] = sum_ent / u;
  m["clip_frac_low"] = sum_clo / u;
  m["clip_frac_high"] = sum_chi / u;
  m["grad_norm"] = sum_norm / u;
  m["tokens"] = tokens / options_.ppo_epochs;
  int64_t lag_max = 0;
  double lag_sum = 0;
  for (const Rollout& r : *rollouts) {
    const int64_t lag = steps_ - 1 - r.policy_version;
    lag_sum += lag;
    lag_max = std::max(lag_max, lag);
  }
  m["policy_lag_mean"] = lag_sum / rollouts->size();
  m["policy_lag_max"] = static_cast<double>(lag_max);
  m["learn_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

}  // namespace r1rl::learner
