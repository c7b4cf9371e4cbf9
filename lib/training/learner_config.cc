#include "lib/training/learner_config.h"

#include "lib/status/status_macros.h"

namespace r1rl::learner {

absl::StatusOr<OptimizerOptions> OptimizerOptionsFromConfig(const config::Config& cfg,
                                                            const std::string& lr_key,
                                                            int64_t total_steps) {
  OptimizerOptions o;
  o.schedule.peak = cfg.GetDouble(lr_key);
  o.schedule.total_steps = total_steps;
  o.schedule.warmup_steps = cfg.GetInt("optim.warmup_steps");
  ASSIGN_OR_RETURN(o.schedule.kind, ParseLrScheduleKind(cfg.GetString("optim.schedule")));
  o.schedule.min_ratio = cfg.GetDouble("optim.min_lr_ratio");
  o.schedule.decay_start = cfg.GetDouble("optim.decay_start");
  o.weight_decay = cfg.GetDouble("optim.weight_decay");
  o.max_grad_norm = cfg.GetDouble("optim.max_grad_norm");
  return o;
}

absl::StatusOr<GrpoTrainerOptions> GrpoOptionsFromConfig(const config::Config& cfg) {
  GrpoTrainerOptions t;
  t.loss.eps_low = cfg.GetDouble("grpo.eps_low");
  t.loss.eps_high = cfg.GetDouble("grpo.eps_high");
  t.loss.beta = cfg.GetDouble("grpo.beta");
  ASSIGN_OR_RETURN(t.loss.kl_estimator, ParseKlEstimator(cfg.GetString("grpo.kl_estimator")));
  t.loss.kl_in_loss = !cfg.GetBool("grpo.kl_in_reward");
  ASSIGN_OR_RETURN(t.loss.aggregation,
                   ParseLossAggregation(cfg.GetString("grpo.loss_aggregation")));
  t.loss.max_response_length = cfg.GetInt("grpo.max_response_length");
  if (t.loss.max_response_length == 0)
    t.loss.max_response_length = cfg.GetInt("generation.max_new_tokens");
  t.loss.tis_cap = cfg.GetDouble("grpo.tis_cap");
  t.loss.sequence_ratio = cfg.GetBool("grpo.sequence_ratio");
  t.advantage.scale_rewards = cfg.GetBool("grpo.scale_rewards");
  t.ppo_epochs = cfg.GetInt("grpo.ppo_epochs");
  t.mini_batches = cfg.GetInt("grpo.mini_batches");
  t.micro_batch_size = cfg.GetInt("grpo.micro_batch_size");
  t.ref_update_every = cfg.GetInt("grpo.ref_update_every");
  t.temperature = cfg.GetDouble("generation.temperature");
  t.seed = static_cast<uint64_t>(cfg.GetInt("generation.seed"));
  t.threads = cfg.GetInt("runtime.learner_threads");
  ASSIGN_OR_RETURN(t.optimizer,
                   OptimizerOptionsFromConfig(cfg, "optim.lr", cfg.GetInt("grpo.steps")));
  RETURN_IF_ERROR(ValidateGrpoOptions(t));
  return t;
}

}  // namespace r1rl::learner
