// The r1rl-reward-grader service: pulls RolloutGroups (protobuf over ZeroMQ PULL), grades
// them on a thread pool, pushes graded groups on (PUSH); serves gRPC health checking
// (grpc.health.v1) and r1rl.v1.RewardGrader (Status, Grade), and Prometheus metrics on
// /metrics (r1rl_grader_*: groups received/graded, drops by reason, grading latency, reward
// components, queue depths, CAS timeouts). Stateless: scale by replicas,
// each connecting to the same input and output endpoints (ZeroMQ fair-queues among them).
//
// A message that is malformed, oversized, names an unknown reward kind, has a bad reward
// spec, carries a NaN or has no samples is counted under its reason (Status.dropped),
// logged, and dropped; the service keeps serving. Shutdown() stops taking input and grades
// and pushes everything already taken before it returns.
//
// Threads: one receiver (owns the PULL socket), `threads` graders, one sender (owns PUSH),
// gRPC's own.
#ifndef R1RL_SERVICES_REWARD_GRADER_GRADER_SERVER_H_
#define R1RL_SERVICES_REWARD_GRADER_GRADER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/rewards/grader.h"
#include "lib/security/security_options.h"
#include "r1rl/v1/grader.pb.h"

namespace r1rl::reward {

struct GraderServerOptions {
  std::string input = "tcp://127.0.0.1:5556";   // where rollout groups come from
  bool input_bind = false;                      // bind (else connect)
  std::string output = "tcp://127.0.0.1:5557";  // where graded groups go
  bool output_bind = false;
  std::string grpc_address = "127.0.0.1:50053";    // port 0: any free port
  std::string metrics_address = "127.0.0.1:9103";  // Prometheus /metrics; port 0: any free port
  security::SecurityOptions security;              // TLS, role tokens, /metrics token (security.*)
  int threads = 2;
  size_t max_message_bytes = 16u << 20;
  std::string id;  // "" = hostname-pid
  GraderOptions grading;
};

// Reads grader.* and reward.*; InvalidArgument naming the key and value.
absl::StatusOr<GraderServerOptions> GraderServerOptionsFromConfig(const config::Config& cfg);

class GraderServer {
 public:
  // Binds/connects the sockets, starts the threads and the gRPC server.
  static absl::StatusOr<std::unique_ptr<GraderServer>> Start(GraderServerOptions options);
  ~GraderServer();

  void Shutdown();
  v1::GraderStatus Status() const;
  int grpc_port() const;
  int metrics_port() const;
  const std::string& id() const;

 private:
  struct State;
  explicit GraderServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::reward

#endif  // R1RL_SERVICES_REWARD_GRADER_GRADER_SERVER_H_
