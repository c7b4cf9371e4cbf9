// The worker's end of the broadcast's collective path: while the service has this worker in
// the learner's collective group (Receiver::collective()), a thread of its own joins the
// group's rendezvous as the rank it was given, allocates staging tensors as each announced
// manifest describes them (names, dtypes, shapes; on the worker's CUDA device with NCCL),
// and receives the version the learner broadcasts right after publishing it
// (collective_weights.h). The group's c10d sockets are not authenticated, so every tensor is
// checked against its XXH3-128 in the manifest (which came over TLS) before it is used. The
// worker keeps sampling meanwhile and swaps between batches
// (TakeInto), only ever to a version that arrived whole: a failed broadcast leaves the
// staging tensors unused, and the service sends the group's members back to the relay
// chains for that version.
//
//   ASSIGN_OR_RETURN(auto crx, CollectiveReceiver::Start(receiver.get(), {.cuda = true}));
//   ASSIGN_OR_RETURN(bool took, crx->TakeInto(lease_version, std::chrono::seconds(30),
//       [&](int64_t v, const auto& names, const auto& tensors) {
//         return policy->LoadWeightsFrom(names, tensors, absl::StrCat("version ", v)); }));
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_BROADCAST_COLLECTIVE_RECEIVER_H_
#define R1RL_LIB_BROADCAST_COLLECTIVE_RECEIVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/broadcast/receiver.h"

namespace at {
class Tensor;
}

namespace r1rl::broadcast {

struct CollectiveReceiverOptions {
  bool cuda = false;  // staging tensors on CUDA device 0 (NCCL), else on the CPU (Gloo)
  // The rendezvous and each broadcast fail after this long (broadcast.collective_timeout_s).
  std::chrono::milliseconds timeout{120000};
  std::string interface;  // Gloo's network interface ("": as distributed::DistOptions)
};

struct CollectiveReceiverStats {
  int64_t versions = 0;       // received whole
  int64_t failures = 0;       // rendezvous or broadcasts that failed (hash failures included)
  int64_t hash_failures = 0;  // versions refused: a tensor differed from its manifest hash
  int64_t bytes = 0;          // as on the wire
  double last_seconds = 0;    // the last version's broadcast
  int64_t last_version = -1;  // the last version received whole (-1: none)
};

class CollectiveReceiver {
 public:
  using LoadFn = std::function<absl::Status(int64_t version, const std::vector<std::string>& names,
                                            const std::vector<at::Tensor>& tensors)>;

  // `receiver` (started with ReceiverOptions::collective) must outlive this.
  static absl::StatusOr<std::unique_ptr<CollectiveReceiver>> Start(
      Receiver* receiver, CollectiveReceiverOptions options);
  ~CollectiveReceiver();
  CollectiveReceiver(const CollectiveReceiver&) = delete;
  CollectiveReceiver& operator=(const CollectiveReceiver&) = delete;

  // Hands `version` (or a newer one that is the service's newest, as Receiver::WaitFor) to
  // `load`, waiting up to `timeout` while this worker is in a working group that sends it.
  // False, at once, when it is not (no group, the group failed, or the version is older
  // than the group): take it from the relay chains. `load`'s error is returned.
  absl::StatusOr<bool> TakeInto(int64_t version, std::chrono::milliseconds timeout,
                                const LoadFn& load);
  CollectiveReceiverStats stats() const;
  void Stop();  // idempotent

 private:
  struct State;
  explicit CollectiveReceiver(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_COLLECTIVE_RECEIVER_H_
