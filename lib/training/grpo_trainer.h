// GrpoTrainer: one GRPO optimisation step per batch of rollouts.
//
//   GrpoTrainer trainer(&policy, options);
//   ASSIGN_OR_RETURN(Metrics m, trainer.Step(&rollouts, /*group_size=*/8));
//
// A step: rewards -> group advantages (optionally minus a KL penalty folded into the reward)
// -> `ppo_epochs` passes over `mini_batches` mini-batches, each one optimizer step (its rows
// processed `micro_batch_size` at a time, gradients accumulated) -> the reference replaced
// by the current policy every `ref_update_every` steps. The ratio is taken against the
// behaviour log-probs the sampler recorded (grpo_loss.h has the formulas).
//
// Metrics of a step (names as written to metrics.jsonl): loss, policy_loss, kl, entropy,
// clip_frac_low, clip_frac_high, grad_norm, lr, advantage_abs_mean, zero_variance_groups,
// logprob_gap_mean / logprob_gap_max (|learner - behaviour| on the first mini-batch, before
// any update: where the two should agree), policy_lag_mean/max, tokens, learn_seconds.
//
// Who computes the gradient and who steps the optimizer: each mini-batch's gradient is
// accumulated on this process's rows, handed to the GradientReducer when one is set (the
// data-parallel learner averages it over its ranks there, with c10d), then the optimizer
// steps. Without a reducer the process is the whole learner.
//
// Thread-safety: one Step at a time; Step drives the policy's module.
#ifndef R1RL_LIB_TRAINING_GRPO_TRAINER_H_
#define R1RL_LIB_TRAINING_GRPO_TRAINER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/policy.h"
#include "lib/training/advantages.h"
#include "lib/training/grpo_loss_options.h"
#include "lib/training/optimizer.h"
#include "lib/training/rollout.h"

namespace r1rl::learner {

struct GrpoTrainerOptions {
  GrpoLossOptions loss;
  AdvantageOptions advantage;
  OptimizerOptions optimizer;
  int64_t ppo_epochs = 1;
  int64_t mini_batches = 1;
  int64_t micro_batch_size = 0;  // rows per forward/backward; 0 = a whole mini-batch
  int64_t ref_update_every = 0;  // 0 = never
  double temperature = 1.0;      // the sampler's: log-probs are taken at it
  int32_t pad_id = 0;
  uint64_t seed = 0;  // mini-batch shuffling
};

// Range checks on every field; InvalidArgument naming the field and the value.
absl::Status ValidateGrpoOptions(const GrpoTrainerOptions& options);

// Data parallelism's seam: called once per optimizer step, after the mini-batch's backward
// and before the optimizer, with the policy whose parameters hold the gradient.
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual absl::Status Reduce(model::Policy& policy) = 0;
};

class GrpoTrainer {
 public:
  // `policy` must outlive the trainer. When the loss needs a reference (beta > 0) the
  // trainer keeps a frozen copy of the policy as it is now.
  static absl::StatusOr<std::unique_ptr<GrpoTrainer>> Create(model::Policy* policy,
                                                             const GrpoTrainerOptions& options);

  // `rollouts` hold whole groups of `group_size`, group-major, rewards set. Fills each
  // rollout's advantage.
  absl::StatusOr<Metrics> Step(std::vector<Rollout>* rollouts, int64_t group_size);

  int64_t steps_done() const { return steps_; }
  // A resumed run: the steps its checkpoint holds (the optimizer loads its own count).
  void set_steps_done(int64_t steps) { steps_ = steps; }
  Optimizer& optimizer() { return *optimizer_; }
  // The frozen KL reference (null when beta = 0): a resumed run restores it when
  // ref_update_every has moved it since the start.
  model::Policy* reference() { return reference_.get(); }
  // The reference when grpo.ref_update_every moves it (a checkpoint must carry it), else null.
  model::Policy* moving_reference() {
    return options_.ref_update_every > 0 ? reference_.get() : nullptr;
  }
  // Not owned; null: one process.
  void set_gradient_reducer(GradientReducer* reducer) { reducer_ = reducer; }

 private:
  GrpoTrainer(model::Policy* policy, const GrpoTrainerOptions& options);

  model::Policy* policy_;
  GrpoTrainerOptions options_;
  std::unique_ptr<model::Policy> reference_;
  std::unique_ptr<Optimizer> optimizer_;
  GradientReducer* reducer_ = nullptr;
  int64_t steps_ = 0;
};

// Copies every parameter of `from` into `to` (same config).
void CopyWeights(const model::Policy& from, model::Policy* to);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_GRPO_TRAINER_H_
