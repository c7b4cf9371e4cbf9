// The parameter-broadcast service (r1rl-param-broadcast): the learner publishes each policy
// version once; the service cuts it into chunks (lib/broadcast/manifest.h), keeps the last
// broadcast.keep_versions, and arranges the receivers (rollout workers) into
// broadcast.fanout relay chains it feeds from its own chunk server. Receivers relay chunk i
// to their child while they fetch chunk i+1, so the service sends each byte about fanout
// times whatever the number of receivers, and N receivers take about one copy's time.
//
// Membership: a receiver silent for broadcast.receiver_timeout_ms leaves its chain (its child
// is fed by its parent); a parent reported failing (Reparent) leaves too and comes back at a
// tail on its next Sync; a receiver broadcast.slow_lag_chunks behind its parent three
// reports in a row moves to a tail, where it slows nobody; a receiver that failed three
// parents in 30 s is fed by the service itself for 30 s.
//
// The collective path (broadcast.collective; lib/broadcast/collective_membership.h): receivers
// that join asking for it form, at the next version the learner publishes, a c10d group with
// the learner at rank 0. While the group works its members leave the chains (their parent is
// "collective") and Sync tells each its rank and where the learner's store serves
// (Rendezvous); the learner broadcasts each version through the group and reports how it
// went (CollectiveDone). A failed version, or no rendezvous within collective_timeout_s,
// breaks the group: its members go back to the chains for that version, and the next
// version forms a new generation.
//
// Control plane: r1rl.v1.ParamBroadcast and grpc.health.v1.Health on broadcast.grpc_address.
// Data plane: ZeroMQ ROUTER on broadcast.chunk_address. Prometheus: r1rl_broadcast_* on
// broadcast.metrics_address.
//
//   ASSIGN_OR_RETURN(auto server, BroadcastServer::Start(options));
//   server->grpc_port();  ...  server->Shutdown();
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_SERVER_H_
#define R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/security/security_options.h"

namespace r1rl::broadcast {

struct BroadcastServerOptions {
  std::string grpc_address = "127.0.0.1:50061";
  std::string chunk_address = "tcp://127.0.0.1:5561";
  std::string advertise_host;  // how receivers reach the chunk server ("" = this host's name)
  std::string metrics_address = "127.0.0.1:9105";
  security::SecurityOptions security;  // TLS, role tokens, /metrics token (security.*)
  int keep_versions = 3;
  int64_t chunk_bytes = int64_t{1} << 20;
  int64_t max_chunks = 16384;  // a version's chunks at most (larger chunks beyond: ChunkBytesFor)
  int fanout = 1;
  int window = 4;
  int sync_wait_ms = 2000;
  int relay_timeout_ms = 2000;
  int receiver_timeout_ms = 10000;
  int slow_lag_chunks = 256;  // 0: never move a receiver for being slow
  int64_t max_model_bytes = int64_t{64} << 30;
  // The collective path (broadcast.collective): receivers that ask in form a c10d group with
  // the learner at each version boundary where membership changed.
  bool collective = false;
  int collective_max_receivers = 256;
  int collective_timeout_s = 120;  // the learner must say where a generation meets by then
};

// Reads broadcast.*; InvalidArgument naming the key and value.
absl::StatusOr<BroadcastServerOptions> BroadcastServerOptionsFromConfig(const config::Config& cfg);

class BroadcastServer {
 public:
  static absl::StatusOr<std::unique_ptr<BroadcastServer>> Start(const BroadcastServerOptions& o);
  ~BroadcastServer();
  void Shutdown();  // idempotent
  int grpc_port() const;
  int metrics_port() const;
  std::string chunk_endpoint() const;

 private:
  struct State;
  explicit BroadcastServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_SERVER_H_
