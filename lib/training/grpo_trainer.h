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
// Work only where there is signal: a row whose advantage is 0 adds nothing to the policy
// loss's gradient, so unless the KL term is in the loss it is not forwarded at all (it still
// counts in the loss's denominators: the gradient is what it would be with it). The
// reference's log-probs are computed once per step (when beta > 0) and reused by every
// mini-batch and epoch; the output projection runs only on completion tokens (ScoreTokens).
//
// Metrics of a step (names as written to metrics.jsonl): loss, policy_loss, kl, entropy
// (of the first mini-batch's trained rows, before any update), clip_frac_low, clip_frac_high,
// grad_norm, lr, advantage_abs_mean, zero_variance_groups, tokens_skipped (completion tokens
// of rows not forwarded, one epoch), logprob_gap_mean / logprob_gap_max (|learner -
// behaviour| on the first mini-batch, before any update: where the two should agree),
// policy_lag_mean/max, tokens, learn_seconds.
//
// Data parallelism: a rank holds whole groups of the step's batch (its BatchShard: where its
// rows sit in the whole batch). Every rank draws the same shuffled order of the whole batch's
// rows, so mini-batch k is the same set of rows for N ranks as for one; each rank trains on
// its rows of it. The loss divides by the whole mini-batch's token and sequence counts
// (summed over the ranks first: grpo_loss.h), so the ranks' gradients add up to the one-
// process gradient: DataParallel::ReduceGradients sums them (c10d), then the optimizer steps
// identically on every rank. The step's metrics are the whole batch's on every rank.
//
// Thread-safety: one Step at a time; Step drives the policy's module.
#ifndef R1RL_LIB_TRAINING_GRPO_TRAINER_H_
#define R1RL_LIB_TRAINING_GRPO_TRAINER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/policy.h"
#include "lib/training/advantages.h"
#include "lib/training/data_parallel.h"
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
  // LibTorch intra-op threads during Step (runtime.learner_threads), restored after:
  // > 0 that many; 0 one per core, or the caller's count with a data-parallel group (ranks
  // may share a machine); -1 the caller's count (`r1rl demo`: its sampler runs beside).
  int64_t threads = 0;
};

// Range checks on every field; InvalidArgument naming the field and the value.
absl::Status ValidateGrpoOptions(const GrpoTrainerOptions& options);

class GrpoTrainer {
 public:
  // `policy` must outlive the trainer. When the loss needs a reference (beta > 0) the
  // trainer keeps a frozen copy of the policy as it is now.
  static absl::StatusOr<std::unique_ptr<GrpoTrainer>> Create(model::Policy* policy,
                                                             const GrpoTrainerOptions& options);

  // `rollouts` hold whole groups of `group_size`, group-major, rewards set. Fills each
  // rollout's advantage. With a DataParallel set, `shard` says where they sit in the whole
  // batch (a rank may hold none of it).
  absl::StatusOr<Metrics> Step(std::vector<Rollout>* rollouts, int64_t group_size,
                               BatchShard shard = {});

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
  void set_data_parallel(DataParallel* dp) { dp_ = dp; }
  DataParallel* data_parallel() { return dp_; }

 private:
  GrpoTrainer(model::Policy* policy, const GrpoTrainerOptions& options);

  model::Policy* policy_;
  GrpoTrainerOptions options_;
  std::unique_ptr<model::Policy> reference_;
  std::unique_ptr<Optimizer> optimizer_;
  DataParallel* dp_ = nullptr;
  int64_t steps_ = 0;
};

// Copies every parameter of `from` into `to` (same config).
void CopyWeights(const model::Policy& from, model::Policy* to);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_GRPO_TRAINER_H_
