// The learner's side of the broadcast: each new version goes to the r1rl-param-broadcast
// service once (a client stream of parts), whatever the number of workers.
//
//   ASSIGN_OR_RETURN(auto pub, BroadcastPublisher::Open("broadcast:50061", security));
//   ASSIGN_OR_RETURN(v1::PublishResponse r, pub->Publish(step, bytes));
//
// Publishing takes the admin role's token (security.keys_dir): only the learner publishes.
//
// Thread-safety: Publish may be called from any thread.
#ifndef R1RL_LIB_BROADCAST_PUBLISHER_H_
#define R1RL_LIB_BROADCAST_PUBLISHER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/security/security_options.h"
#include "r1rl/v1/broadcast.grpc.pb.h"

namespace r1rl::broadcast {

class BroadcastPublisher {
 public:
  // The channel is TLS with the admin token unless security.insecure; an error when the keys
  // folder lacks what that needs.
  static absl::StatusOr<std::unique_ptr<BroadcastPublisher>> Open(
      const std::string& address, const security::SecurityOptions& security,
      std::chrono::milliseconds timeout = std::chrono::minutes(5));
  // Sends `bytes` (one safetensors file) as version `version`; the answer says how many chunks
  // it made and how many were unchanged. Unavailable when the service does not answer within
  // 10 s (a service starting up is waited for).
  // `collective`: the learner sends the version through a collective group too, when the
  // service forms one (the answer's `collective` says which).
  absl::StatusOr<v1::PublishResponse> Publish(int64_t version, std::string_view bytes,
                                              bool collective = false);
  // The collective path's calls (collective_sender.h): where a generation meets, and how a
  // version sent through it ended.
  absl::Status Rendezvous(const v1::RendezvousRequest& request);
  absl::Status CollectiveDone(const v1::CollectiveReport& report);
  const std::string& address() const { return address_; }

 private:
  BroadcastPublisher() = default;
  std::string address_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ParamBroadcast::Stub> stub_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_PUBLISHER_H_
