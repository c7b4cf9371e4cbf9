// DataParallel: the collectives a data-parallel learner's trainer needs, over its ranks. The
// trainer (grpo_trainer.h) calls them; lib/distributed implements them with c10d (Gloo on CPU,
// NCCL on GPU). One process needs none: a trainer without one is the whole learner.
//
// Every rank calls the same methods in the same order (they are collectives): a rank that
// skips one leaves the others waiting until the process group's timeout.
//
// No LibTorch here: the trainer's header includes this.
#ifndef R1RL_LIB_TRAINING_DATA_PARALLEL_H_
#define R1RL_LIB_TRAINING_DATA_PARALLEL_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1rl::model {
class Policy;
}

namespace r1rl::learner {

class Optimizer;

class DataParallel {
 public:
  enum class Op { kSum, kMax };

  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // Reduces `values` element-wise over the ranks; every rank gets the result.
  virtual absl::Status AllReduce(std::vector<double>* values, Op op) = 0;

  // Called before the last backward pass ahead of ReduceGradients (the last micro-batch of
  // a mini-batch); an implementation may start summing gradients that this pass makes final
  // while it runs. A rank with no rows in the mini-batch does not call it.
  virtual absl::Status BeginFinalBackward(model::Policy& policy) { return absl::OkStatus(); }
  // Sums the gradient of every trainable parameter of `policy` over the ranks, in buckets
  // (a rank whose rows did not reach a parameter adds zeros). Afterwards every trainable
  // parameter has the same gradient on every rank. Called after a mini-batch's backward.
  virtual absl::Status ReduceGradients(model::Policy& policy) = 0;

  // The optimizer's step on the reduced gradients; returns the gradient's global norm before
  // clipping. The default steps `optimizer` on every rank (each keeps the whole Adam state);
  // a sharded implementation (ZeRO-1) keeps 1/N of it and all-gathers the parameters.
  virtual absl::StatusOr<double> OptimizerStep(model::Policy& policy, Optimizer& optimizer);
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_DATA_PARALLEL_H_
