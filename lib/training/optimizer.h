// The learner's optimizer: AdamW with decoupled weight decay, global-norm gradient clipping
// and a learning-rate schedule, over every trainable parameter of a model (or, sharded as
// ZeRO-1, the state of this shard's parameters). Its state saves
// to and loads from safetensors (<param>.exp_avg, <param>.exp_avg_sq; the step count in the
// metadata), beside the model's weights in a checkpoint folder.
//
// Thread-safety: one user at a time.
#ifndef R1RL_LIB_TRAINING_OPTIMIZER_H_
#define R1RL_LIB_TRAINING_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/training/lr_schedule.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn
namespace at {
class Tensor;
}  // namespace at

namespace r1rl::learner {

struct OptimizerOptions {
  LrSchedule schedule;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  // ZeRO-1: this process keeps and steps the Adam state of the parameters ShardOwners gives
  // shard `shard_rank` of `shard_count` only; the others are stepped by their owners, whose
  // new values a data-parallel learner all-gathers (lib/distributed). 1: every parameter.
  int shard_rank = 0;
  int shard_count = 1;
};

// Which shard owns each of `numels` (the trainable parameters in module order): each goes to
// the shard holding the fewest elements so far (the lowest index on a tie). Deterministic,
// so every rank computes the same map.
std::vector<int> ShardOwners(const std::vector<int64_t>& numels, int shards);

class Optimizer {
 public:
  Optimizer(torch::nn::Module& module, const OptimizerOptions& options);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void ZeroGrad();
  // Gives every parameter without a gradient a zero one: an update whose rows were all
  // skipped (no signal) still moves AdamW's moments as a zero gradient would.
  void FillMissingGrads();
  // Clips the gradients (by the norm over every parameter), sets the scheduled learning rate
  // and steps the parameters this shard owns. Returns the gradient's global norm before
  // clipping.
  double Step();

  // The shard map (ShardOwners over the trainable parameters, module order) and its state.
  const std::vector<int>& owners() const { return owners_; }
  std::vector<int64_t> ParameterShape(size_t i) const;
  // Elements of Adam state held here (2 per owned parameter element once stepped).
  int64_t state_elements() const;
  // Parameter i's moments: false when this process holds none for it.
  bool GetMoments(size_t i, at::Tensor* exp_avg, at::Tensor* exp_avg_sq) const;
  // Installs parameter i's moments (a checkpoint gathers the shards into one process) ...
  void SetMoments(size_t i, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq);
  // ... and drops those of the parameters other shards own again.
  void DropForeignMoments();

  int64_t steps_taken() const { return steps_; }
  double current_lr() const { return options_.schedule.At(steps_); }

  // optimizer.safetensors in `dir`: moments per named parameter, step count in metadata.
  [[nodiscard]] absl::Status Save(const std::string& path) const;
  [[nodiscard]] absl::Status Load(const std::string& path);

 private:
  struct State;  // the parameters and LibTorch's AdamW (optimizer.cc): no LibTorch here

  OptimizerOptions options_;
  std::unique_ptr<State> state_;
  std::vector<int> owners_;
  int64_t steps_ = 0;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_OPTIMIZER_H_
