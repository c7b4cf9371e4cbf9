// C10dDataParallel: the trainer's DataParallel (lib/training/data_parallel.h) over a c10d
// ProcessGroup. Gradients are summed in buckets: the trainable parameters, in the module's
// fixed order (the same on every rank), are packed into flat buffers of about `bucket_bytes`
// each and each buffer is one all-reduce, so a model of many small tensors costs a few large
// calls rather than one call per tensor.
//
//   C10dDataParallel dp(pg.get(), options.bucket_bytes);
//   trainer->set_data_parallel(&dp);
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
  C10dDataParallel(ProcessGroup* pg, int64_t bucket_bytes);
  ~C10dDataParallel() override;

  int rank() const override { return pg_->rank(); }
  int world_size() const override { return pg_->size(); }
  absl::Status AllReduce(std::vector<double>* values, Op op) override;
  absl::Status ReduceGradients(model::Policy& policy) override;

  // Buckets of the last ReduceGradients (1 per all-reduce call).
  int64_t buckets() const { return buckets_; }

 private:
  struct Buffers;  // the flat buckets, made on first use (c10d_data_parallel.cc)

  ProcessGroup* pg_;
  int64_t bucket_bytes_;
  int64_t buckets_ = 0;
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_C10D_DATA_PARALLEL_H_
