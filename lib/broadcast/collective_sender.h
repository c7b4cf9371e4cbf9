// The learner's end of the broadcast's collective path. After each publish, the service's
// answer names the collective group the version goes through (PublishResponse.collective);
// the sender serves that generation's rendezvous as rank 0 (a c10d store on a port the kernel
// picks, told to the service, which tells the members at their Sync), waits for every member
// within the timeout, broadcasts the version in buckets (collective_weights.h) and reports
// the outcome (CollectiveDone). An unchanged group is kept from version to version; a new
// generation replaces it. Any failure is reported: the service sends the members back to the
// relay chains, where the version already is, so a failed group costs time, never weights.
//
//   CollectiveSender sender(publisher.get(), options);
//   ASSIGN_OR_RETURN(v1::PublishResponse r, publisher->Publish(v, bytes, /*collective=*/true));
//   if (r.has_collective())
//     sender.Send(v, r.collective(), [&](auto* n, auto* t) { policy.NamedParameters(n, t); });
//
// Thread-safety: Send from one thread at a time.
#ifndef R1RL_LIB_BROADCAST_COLLECTIVE_SENDER_H_
#define R1RL_LIB_BROADCAST_COLLECTIVE_SENDER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/broadcast/collective_weights.h"
#include "lib/broadcast/publisher.h"
#include "lib/distributed/dist_options.h"

namespace r1rl::broadcast {

struct CollectiveSenderOptions {
  std::string host;  // where members reach the store ("": this host's name)
  distributed::Backend backend = distributed::Backend::kAuto;  // auto: NCCL on CUDA tensors
  int64_t bucket_bytes = int64_t{256} << 20;
  FloatWire wire = FloatWire::kAsIs;  // the published dtype (broadcast.transfer_dtype)
  std::chrono::milliseconds timeout{120000};
  std::string interface;  // Gloo's network interface ("": as distributed::DistOptions)
};

class CollectiveSender {
 public:
  CollectiveSender(BroadcastPublisher* publisher, CollectiveSenderOptions options);
  ~CollectiveSender();

  // The weights to send: names sorted, tensors on one device (model::Policy::NamedParameters).
  using ParamsFn =
      std::function<void(std::vector<std::string>* names, std::vector<at::Tensor>* tensors)>;

  // Sends `version` (the tensors `params` gives) through `group`, forming it first when its
  // generation is new. The error, also reported to the service.
  absl::StatusOr<CollectiveStats> Send(int64_t version, const v1::CollectiveGroupInfo& group,
                                       const ParamsFn& params);

 private:
  // `missing`: the ranks that never came, when the rendezvous timed out.
  absl::Status Form(const v1::CollectiveGroupInfo& group, bool cuda, std::vector<int>* missing);

  BroadcastPublisher* publisher_;
  CollectiveSenderOptions options_;
  std::unique_ptr<distributed::ProcessGroup> pg_;
  int64_t generation_ = 0;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_COLLECTIVE_SENDER_H_
