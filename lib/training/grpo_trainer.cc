#include "lib/training/grpo_trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "lib/model/causal_lm.h"
#include "lib/runtime/threads.h"
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
  if (o.threads < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("runtime.learner_threads = ", o.threads, ": must be >= 0"));
  }
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

absl::StatusOr<Metrics> GrpoTrainer::Step(std::vector<Rollout>* rollouts, int64_t group_size,
                                          BatchShard shard) {
  const auto start = std::chrono::steady_clock::now();
  runtime::ScopedIntraOpThreads threads(
      options_.threads != 0 ? options_.threads : (dp_ == nullptr ? runtime::CoreCount() : -1));
  const int64_t local = static_cast<int64_t>(rollouts->size());
  const int64_t total = shard.total > 0 ? shard.total : local;
  if (total == 0) return absl::InvalidArgumentError("GRPO step: no rollouts");
  if (shard.offset < 0 || shard.offset + local > total) {
    return absl::InvalidArgumentError(absl::StrCat("GRPO step: shard of ", local,
                                                   " rows at offset ", shard.offset,
                                                   " does not fit a batch of ", total));
  }
  if (dp_ == nullptr && local != total) {
    return absl::InvalidArgumentError(
        absl::StrCat("GRPO step: ", local, " of ", total, " rows and no data-parallel group"));
  }
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
  auto all_reduce = [&](std::vector<double>* v, DataParallel::Op op) -> absl::Status {
    return dp_ != nullptr ? dp_->AllReduce(v, op) : absl::OkStatus();
  };

  auto refs_of = [&](const std::vector<int64_t>& rows) {
    std::vector<SequenceRef> refs;
    refs.reserve(rows.size());
    for (int64_t i : rows) {
      const Rollout& r = (*rollouts)[i];
      refs.push_back({&r.prompt_ids, &r.completion_ids, &r.behaviour_logprobs});
    }
    return refs;
  };

  // The reference's log-probs, once per step (not per mini-batch, epoch or micro-batch),
  // for the KL in the reward or in the loss.
  std::vector<std::vector<float>> ref_lp;
  if (need_ref && local > 0) {
    torch::NoGradGuard no_grad;
    ref_lp.resize(local);
    const int64_t micro = options_.micro_batch_size > 0 ? options_.micro_batch_size : local;
    for (int64_t s = 0; s < local; s += micro) {
      std::vector<int64_t> rows(std::min(micro, local - s));
      std::iota(rows.begin(), rows.end(), s);
      PackedBatch batch = Pack(refs_of(rows), options_.pad_id, device);
      torch::Tensor ref = ScoreTokens(reference_->lm(), batch, options_.temperature, false)
                              .logprobs.to(torch::kCPU)
                              .contiguous();
      auto acc = ref.accessor<float, 2>();
      for (size_t i = 0; i < rows.size(); ++i) {
        const Rollout& r = (*rollouts)[rows[i]];
        const int64_t p = static_cast<int64_t>(r.prompt_ids.size());
        std::vector<float>& out = ref_lp[rows[i]];
        out.resize(r.completion_ids.size());
        for (size_t j = 0; j < out.size(); ++j) out[j] = acc[i][p + j - 1];
      }
    }
  }
  // The reference's log-probs of `rows`, packed as Pack lays out the same rows.
  auto ref_of = [&](const std::vector<int64_t>& rows) {
    std::vector<SequenceRef> with_ref = refs_of(rows);
    for (size_t i = 0; i < rows.size(); ++i) with_ref[i].behaviour = &ref_lp[rows[i]];
    return Pack(with_ref, options_.pad_id, device).behaviour;
  };

  // Rewards (with the KL folded in when asked) -> advantages, within each (local) group.
  std::vector<double> rewards(rollouts->size());
  for (size_t i = 0; i < rollouts->size(); ++i) rewards[i] = (*rollouts)[i].reward;
  Metrics m;
  double kl_penalty_sum = 0.0;
  if (need_ref && !lopt.kl_in_loss && local > 0) {
    std::vector<int64_t> all(rollouts->size());
    std::iota(all.begin(), all.end(), 0);
    PackedBatch batch = Pack(refs_of(all), options_.pad_id, device);
    torch::Tensor ref = ref_of(all);
    torch::Tensor kl =
        (KlEstimate(batch.behaviour, ref, lopt.kl_estimator) * batch.loss_mask).sum(1);
    for (size_t i = 0; i < rewards.size(); ++i) rewards[i] -= lopt.beta * kl[i].item<double>();
    kl_penalty_sum = lopt.beta * kl.sum().item<double>();
  }
  std::vector<double> adv;
  if (local > 0) {
    ASSIGN_OR_RETURN(adv, GroupAdvantages(rewards, group_size, options_.advantage));
  }
  int64_t zero_var = 0;
  double adv_abs = 0.0;
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    if (!GroupHasSignal(absl::MakeConstSpan(rewards).subspan(g, group_size))) ++zero_var;
  }
  for (size_t i = 0; i < adv.size(); ++i) {
    (*rollouts)[i].advantage = adv[i];
    adv_abs += std::abs(adv[i]);
  }

  // Rows with advantage 0 add nothing to the policy loss's gradient; unless the KL term is
  // in the loss (it pulls every row towards the reference) they are not forwarded at all.
  // They still count in the loss's denominators, so the gradient is the same as with them.
  const bool kl_in_loss = need_ref && lopt.kl_in_loss;
  auto trained = [&](int64_t row) { return kl_in_loss || adv[row] != 0.0; };

  // Mini-batches: the same shuffled order of the whole batch's rows on every rank; this
  // rank trains on its rows of each.
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options_.seed * 1000003 + steps_);
  const int64_t mb = std::max<int64_t>(1, std::min(options_.mini_batches, total));
  const int64_t updates = options_.ppo_epochs * mb;
  std::vector<std::vector<int64_t>> rows_of(updates);  // local row indices per update
  std::vector<double> counts(2 * updates, 0.0);        // tokens, sequences per update
  double skipped_tokens = 0.0;                         // of rows without signal, one epoch
  for (int64_t epoch = 0; epoch < options_.ppo_epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t k = 0; k < mb; ++k) {
      const int64_t u = epoch * mb + k;
      for (int64_t pos = k * total / mb; pos < (k + 1) * total / mb; ++pos) {
        const int64_t row = order[pos] - shard.offset;
        if (row < 0 || row >= local) continue;
        if (trained(row)) {
          rows_of[u].push_back(row);
        } else if (epoch == 0) {
          skipped_tokens += static_cast<double>((*rollouts)[row].completion_ids.size());
        }
        counts[2 * u] += static_cast<double>((*rollouts)[row].completion_ids.size());
        counts[2 * u + 1] += 1.0;
      }
    }
  }
  RETURN_IF_ERROR(all_reduce(&counts, DataParallel::Op::kSum));

  // Per update: loss, policy loss, kl * tokens, entropy sum, clip-low * tokens,
  // clip-high * tokens (this rank's shares; summed over the ranks below).
  constexpr int kStats = 6;
  std::vector<double> sums(kStats * updates + 7, 0.0);
  double sum_norm = 0.0, gap_max = 0.0;
  for (int64_t u = 0; u < updates; ++u) {
    const std::vector<int64_t>& rows_u = rows_of[u];
    const int64_t n_u = static_cast<int64_t>(rows_u.size());
    const int64_t micro =
        options_.micro_batch_size > 0 ? options_.micro_batch_size : std::max<int64_t>(1, n_u);
    optimizer_->ZeroGrad();
    double* st = &sums[kStats * u];
    for (int64_t s = 0; s < n_u; s += micro) {
      std::vector<int64_t> rows(rows_u.begin() + s, rows_u.begin() + std::min(n_u, s + micro));
      PackedBatch batch = Pack(refs_of(rows), options_.pad_id, device);
      torch::Tensor adv_t = torch::empty({static_cast<int64_t>(rows.size())}, torch::kFloat32);
      for (size_t i = 0; i < rows.size(); ++i) adv_t[i] = static_cast<float>(adv[rows[i]]);
      // Entropy is a diagnostic: measured on the first update only, before any change.
      auto scored = ScoreTokens(lm, batch, options_.temperature, u == 0);
      GrpoLossInputs in;
      in.logprobs = scored.logprobs;
      in.behaviour_logprobs = batch.behaviour;
      in.mask = batch.loss_mask;
      in.advantages = adv_t.to(device);
      in.total_tokens = std::max(1.0, counts[2 * u]);
      in.total_sequences = std::max(1.0, counts[2 * u + 1]);
      if (kl_in_loss) in.ref_logprobs = ref_of(rows);
      ASSIGN_OR_RETURN(GrpoLossResult res, GrpoLoss(in, lopt));
      if (dp_ != nullptr && s + micro >= n_u) RETURN_IF_ERROR(dp_->BeginFinalBackward(*policy_));
      res.loss.backward();
      torch::NoGradGuard no_grad;
      const double t = res.stats.tokens;
      if (u == 0) {  // |learner - behaviour| before any update
        torch::Tensor gap = (scored.logprobs.detach() - batch.behaviour).abs() * batch.loss_mask;
        sums[kStats * updates + 4] += gap.sum().item<double>();
        sums[kStats * updates + 5] += batch.loss_mask.sum().item<double>();
        gap_max = std::max(gap_max, gap.max().item<double>());
      }
      st[0] += res.loss.item<double>();
      st[1] += res.stats.policy_loss;
      st[2] += res.stats.kl * t;
      if (u == 0) st[3] += (scored.entropy * batch.loss_mask).sum().item<double>();
      st[4] += res.stats.clip_frac_low * t;
      st[5] += res.stats.clip_frac_high * t;
    }
    if (dp_ != nullptr) {
      RETURN_IF_ERROR(dp_->ReduceGradients(*policy_));
      ASSIGN_OR_RETURN(const double norm, dp_->OptimizerStep(*policy_, *optimizer_));
      sum_norm += norm;
    } else {
      if (n_u == 0) optimizer_->FillMissingGrads();
      sum_norm += optimizer_->Step();
    }
  }
  m["lr"] = optimizer_->current_lr();
  ++steps_;
  if (reference_ && options_.ref_update_every > 0 && steps_ % options_.ref_update_every == 0) {
    CopyWeights(*policy_, reference_.get());
    m["ref_updated"] = 1.0;
  }

  // The whole batch's statistics, the same on every rank.
  int64_t lag_max = 0;
  double lag_sum = 0;
  for (const Rollout& r : *rollouts) {
    const int64_t lag = steps_ - 1 - r.policy_version;
    lag_sum += lag;
    lag_max = std::max(lag_max, lag);
  }
  double* step_sums = &sums[kStats * updates];
  step_sums[0] = static_cast<double>(zero_var);
  step_sums[1] = adv_abs;
  step_sums[2] = lag_sum;
  step_sums[3] = kl_penalty_sum;
  step_sums[6] = skipped_tokens;
  RETURN_IF_ERROR(all_reduce(&sums, DataParallel::Op::kSum));
  std::vector<double> maxes = {gap_max, static_cast<double>(lag_max)};
  RETURN_IF_ERROR(all_reduce(&maxes, DataParallel::Op::kMax));
  double sum_loss = 0, sum_policy = 0, sum_kl = 0, sum_clo = 0, sum_chi = 0, tokens = 0;
  for (int64_t u = 0; u < updates; ++u) {
    const double* st = &sums[kStats * u];
    const double d = std::max(1.0, counts[2 * u]);
    sum_loss += st[0];
    sum_policy += st[1];
    sum_kl += st[2] / d;
    sum_clo += st[4] / d;
    sum_chi += st[5] / d;
    tokens += counts[2 * u];
  }
  const double u = static_cast<double>(updates);
  const double rows = static_cast<double>(total);
  m["zero_variance_groups"] = step_sums[0] / (rows / group_size);
  m["advantage_abs_mean"] = step_sums[1] / rows;
  if (need_ref && !lopt.kl_in_loss) m["kl_reward_penalty"] = step_sums[3] / rows;
  m["logprob_gap_mean"] = step_sums[4] / std::max(1.0, step_sums[5]);
  m["logprob_gap_max"] = maxes[0];
  m["loss"] = sum_loss / u;
  m["policy_loss"] = sum_policy / u;
  m["kl"] = sum_kl / u;
  m["entropy"] = sums[3] / std::max(1.0, step_sums[5]);
  m["tokens_skipped"] = step_sums[6];
  m["clip_frac_low"] = sum_clo / u;
  m["clip_frac_high"] = sum_chi / u;
  m["grad_norm"] = sum_norm / u;
  m["tokens"] = tokens / options_.ppo_epochs;
  m["policy_lag_mean"] = step_sums[2] / rows;
  m["policy_lag_max"] = maxes[1];
  m["learn_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

}  // namespace r1rl::learner
