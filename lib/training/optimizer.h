// The learner's optimizer: AdamW with decoupled weight decay, global-norm gradient clipping
// and a learning-rate schedule, over every trainable parameter of a model. Its state saves
// to and loads from safetensors (<param>.exp_avg, <param>.exp_avg_sq; the step count in the
// metadata), beside the model's weights in a checkpoint folder.
//
// Thread-safety: one user at a time.
#ifndef R1RL_LIB_TRAINING_OPTIMIZER_H_
#define R1RL_LIB_TRAINING_OPTIMIZER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "lib/training/lr_schedule.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace r1rl::learner {

struct OptimizerOptions {
  LrSchedule schedule;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping
};

class Optimizer {
 public:
  Optimizer(torch::nn::Module& module, const OptimizerOptions& options);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void ZeroGrad();
  // Clips the gradients, sets the scheduled learning rate and steps. Returns the gradient's
  // global norm before clipping.
  double Step();

  int64_t steps_taken() const { return steps_; }
  double current_lr() const { return options_.schedule.At(steps_); }

  // optimizer.safetensors in `dir`: moments per named parameter, step count in metadata.
  [[nodiscard]] absl::Status Save(const std::string& path) const;
  [[nodiscard]] absl::Status Load(const std::string& path);

 private:
  struct State;  // the parameters and LibTorch's AdamW (optimizer.cc): no LibTorch here

  OptimizerOptions options_;
  std::unique_ptr<State> state_;
  int64_t steps_ = 0;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_OPTIMIZER_H_
