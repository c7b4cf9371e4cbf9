// ProcessGroup: the ranks of a data-parallel learner, joined through c10d's TCPStore and
// talking through a c10d process group (ProcessGroupGloo on CPU, ProcessGroupNCCL on GPU).
// PyTorch's own engine does every collective; this class adds what a service needs around
// it: a rendezvous that checks who joined, Status errors instead of exceptions, a timeout on
// every call, and errors that name the rank that died.
//
//   ASSIGN_OR_RETURN(auto pg, ProcessGroup::Create(options, /*cuda=*/false));
//   RETURN_IF_ERROR(pg->AllReduce(tensors, ReduceOp::kSum));
//
// Rendezvous: rank 0 hosts the store at master_addr:master_port; every rank checks in under
// its rank. A rank whose world size differs from rank 0's, a rank that is taken twice, or a
// rendezvous that does not complete within the timeout (naming the ranks that never came)
// fail Create with InvalidArgument / DeadlineExceeded.
//
// Faults: every rank writes a heartbeat into the store each second from a thread of its own.
// When a collective fails (a peer's socket closed, or the timeout passed), the error names
// the ranks whose heartbeat stopped, or rank 0 when the store itself is gone.
//
// Thread-safety: collectives from one thread at a time (they are ordered across ranks; a
// started all-reduce may be waited for on another); stats() from any.
#ifndef R1RL_LIB_DISTRIBUTED_PROCESS_GROUP_H_
#define R1RL_LIB_DISTRIBUTED_PROCESS_GROUP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/distributed/dist_options.h"

namespace at {
class Tensor;
}

namespace r1rl::distributed {

enum class ReduceOp { kSum, kMax };

class ProcessGroup {
 public:
  // `cuda`: the tensors live on this process's CUDA device (NCCL under backend auto).
  // `missing`, when given: on a rendezvous that timed out, the ranks that never came.
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Create(const DistOptions& options, bool cuda,
                                                              std::vector<int>* missing = nullptr);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int size() const { return options_.world_size; }
  Backend backend() const { return backend_; }
  const DistOptions& options() const { return options_; }

  // In place, element-wise over the ranks (tensors on the backend's device, contiguous).
  absl::Status AllReduce(std::vector<at::Tensor>& tensors, ReduceOp op);
  // The same, started and not waited for: the returned id is handed to Wait, which blocks
  // until the call is done (within the timeout) and must be called once per id. Tensors
  // must stay untouched until then. Start order is the collective order across ranks; the
  // backend progresses the call on threads of its own (Gloo) or its stream (NCCL).
  absl::StatusOr<int64_t> StartAllReduce(std::vector<at::Tensor>& tensors, ReduceOp op);
  absl::Status Wait(int64_t id);
  // `tensor` from `root` to every rank.
  absl::Status Broadcast(at::Tensor& tensor, int root);
  // A byte string from `root` (its length first, then the bytes) to every rank.
  absl::Status BroadcastBytes(std::string* bytes, int root);
  // outputs[r] = rank r's `input` (outputs sized like input, one per rank).
  absl::Status AllGather(std::vector<at::Tensor>& outputs, at::Tensor& input);
  absl::Status Barrier();

  struct Stats {
    double allreduce_seconds = 0;  // waiting for all-reduce calls to finish (for a started
                                   // call: the time in StartAllReduce and Wait, not hidden)
    double allreduce_bytes = 0;    // bytes this rank handed to all-reduce
    double allreduce_calls = 0;
    double other_seconds = 0;  // broadcast, all-gather, barrier
  };
  Stats stats() const;
  // After a failed collective: the ranks whose heartbeat had stopped (empty: none, or the
  // store itself was gone). Read from the thread that ran the collectives.
  const std::vector<int>& gone_ranks() const { return gone_; }

 private:
  struct Impl;  // the c10d objects (process_group.cc): no LibTorch in this header
  explicit ProcessGroup(const DistOptions& options);
  // Turns a failed collective into an error naming `what` and the ranks that stopped.
  absl::Status Failed(const std::string& what, const std::string& detail);

  DistOptions options_;
  Backend backend_ = Backend::kGloo;
  std::vector<int> gone_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_PROCESS_GROUP_H_
