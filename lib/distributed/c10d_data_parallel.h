// C10dDataParallel: the trainer's DataParallel (lib/training/data_parallel.h) over a c10d
// ProcessGroup. Gradients are summed in buckets: the trainable parameters, in the module's
// fixed order (the same on every rank), are packed into flat buffers of about `bucket_bytes`
// each and each buffer is one all-reduce, so a model of many small tensors costs a few large
// calls rather than one call per tensor. Buckets run from the last parameters to the first,
// the order in which the backward pass makes gradients final.
//
// Overlap (`overlap`, on by default): before the last backward pass of a mini-batch the
// trainer calls BeginFinalBackward; a hook on every parameter then copies the parameter's
// final gradient into its bucket as the backward pass produces it, and a bucket whose
// gradients are all in starts its all-reduce at once (asynchronously, on the backend's own
// threads) while the backward pass goes on. Buckets start strictly in their order, so every
// rank issues the same collectives in the same order whatever its hooks' timing; those not
// started by the end of backward (parameters this rank's rows did not reach) start in
// ReduceGradients, which then waits for all of them.
//
//   C10dDataParallel dp(pg.get(), options.bucket_bytes);
//   trainer->set_data_parallel(&dp);
//
// ZeRO-1 (`shard_optimizer`): the optimizer keeps the Adam state of this rank's shard of the
// parameters only (OptimizerOptions::shard_rank/shard_count, lib/training/optimizer.h).
// Gradients are still all-reduced whole (Gloo has no reduce-scatter in LibTorch 1.13, and
// the gradient norm for clipping needs every gradient), each rank steps its shard, and the
// updated parameters are all-gathered: one broadcast per rank of its shard, flat. A
// checkpoint gathers the shards' state into rank 0 first (GatherOptimizerState).
//
// Thread-safety: the trainer's thread only.
#ifndef R1RL_LIB_DISTRIBUTED_C10D_DATA_PARALLEL_H_
#define R1RL_LIB_DISTRIBUTED_C10D_DATA_PARALLEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/distributed/process_group.h"
#include "lib/training/data_parallel.h"

namespace r1rl::distributed {

class C10dDataParallel : public learner::DataParallel {
 public:
  // `pg` must outlive this.
  C10dDataParallel(ProcessGroup* pg, int64_t bucket_bytes, bool shard_optimizer = false,
                   bool overlap = true);
  ~C10dDataParallel() override;

  int rank() const override { return pg_->rank(); }
  int world_size() const override { return pg_->size(); }
  absl::Status AllReduce(std::vector<double>* values, Op op) override;
  absl::Status BeginFinalBackward(model::Policy& policy) override;
  absl::Status ReduceGradients(model::Policy& policy) override;
  absl::StatusOr<double> OptimizerStep(model::Policy& policy,
                                       learner::Optimizer& optimizer) override;

  // ZeRO-1: every rank's Adam state into `root`'s optimizer (a collective; a no-op before
  // the first step or without sharding). Afterwards root's Optimizer::Save writes the whole
  // state; DropForeignMoments frees it again.
  absl::Status GatherOptimizerState(learner::Optimizer& optimizer, int root);
  bool shard_optimizer() const { return shard_; }

  // Buckets of the last ReduceGradients (1 per all-reduce call).
  int64_t buckets() const { return buckets_; }
  // Of those, how many started during the backward pass (overlapped).
  int64_t buckets_overlapped() const { return overlapped_; }

 private:
  struct Buffers;  // the flat buckets and hooks, made on first use (c10d_data_parallel.cc)
  void EnsureBuffers(model::Policy& policy);

  ProcessGroup* pg_;
  int64_t bucket_bytes_;
  bool shard_;
  bool overlap_;
  int64_t buckets_ = 0;
  int64_t overlapped_ = 0;
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_C10D_DATA_PARALLEL_H_
