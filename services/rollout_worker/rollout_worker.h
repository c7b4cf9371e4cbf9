// The rollout worker: registers with the controller, leases prompts, samples G completions
// per prompt with batched KV-cached generation, and pushes each group (protobuf
// RolloutGroup) over ZeroMQ PUSH to the controller's rollouts endpoint, from where graders
// take them. Stateless: killing one loses nothing but time (its leases expire and are
// granted again).
//
//   ASSIGN_OR_RETURN(auto worker, RolloutWorker::Create(options));
//   RETURN_IF_ERROR(worker->Run(stop));   // until `stop`, or the data is done (exit_when_done)
//
// Weights: the worker loads config.json, tokenizer.json and initial weights from its model
// folder. When the controller names a param-broadcast service (RegisterResponse), the worker
// joins it (lib/broadcast/receiver.h): new versions arrive in the background through its
// relay chain, every chunk hash-checked, while it samples, and it relays them to the next
// worker. With broadcast.collective it also asks into the learner's collective group
// (lib/broadcast/collective_receiver.h): while it is in one, versions come through the group
// into staging tensors instead. Before sampling a batch leased at another policy version than
// its own it swaps to
// that version (waiting up to worker.weights_wait_ms while it is on its way); without a
// service, or when the version does not come, it fetches it from the learner
// (Controller.FetchWeights, chunked, SHA-256 checked before the swap). Against a controller
// with no published weights it samples with what it loaded. Leases are long polls
// (worker.lease_wait_ms): when the staleness window is full the controller holds the request and
// answers the moment the learner moves the version. Every heartbeat interval it reports its
// counters (Controller.ReportStatus). Prometheus: r1rl_worker_* on worker.metrics_address;
// r1rl.v1.RolloutWorker.Status and grpc.health.v1.Health on worker.grpc_address.
#ifndef R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_
#define R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/model/generator.h"
#include "lib/security/security_options.h"
#include "lib/tokenizer/prompt_template.h"

namespace r1rl::rollout {

struct RolloutWorkerOptions {
  std::string controller = "127.0.0.1:50051";       // gRPC
  std::string output = "tcp://127.0.0.1:5555";      // the controller's rollouts endpoint
  std::string model_dir;                            // config.json, safetensors, tokenizer.json
  std::string worker_id;                            // "" = the controller names it
  std::string metrics_address = "127.0.0.1:9102";   // Prometheus /metrics (port 0: any free)
  security::SecurityOptions security;               // TLS, role tokens, /metrics token (security.*)
  std::string grpc_address = "127.0.0.1:50052";     // Status + health (port 0: any free)
  int lease_wait_ms = 2000;                         // LeasePrompts long poll
  std::string relay_address = "tcp://127.0.0.1:0";  // broadcast chunks served to the next worker
  std::string advertise_host;                       // how other workers reach it ("" = hostname)
  int weights_wait_ms = 30000;  // for a version through the broadcast, then FetchWeights
  // broadcast.collective: ask into the learner's collective group (its backend and bucket
  // size come from the learner through the service); this worker samples on the CPU, so the
  // group's tensors stay there (Gloo).
  bool collective = false;
  std::chrono::milliseconds collective_timeout{120000};
  int prompts_per_lease = 8;
  bool exit_when_done = false;  // return from Run once the dataset is exhausted
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
  std::string system_prompt;
  model::GenerationOptions generation;
  std::chrono::milliseconds idle_backoff{200};
};

// Reads worker.*, prompt.*, generation.*; InvalidArgument naming the key.
absl::StatusOr<RolloutWorkerOptions> RolloutWorkerOptionsFromConfig(const config::Config& cfg);

struct RolloutWorkerStats {
  int64_t groups_pushed = 0;
  int64_t tokens_generated = 0;
  double generate_seconds = 0;
};

class RolloutWorker {
 public:
  static absl::StatusOr<std::unique_ptr<RolloutWorker>> Create(RolloutWorkerOptions options);
  ~RolloutWorker();
  absl::Status Run(const std::atomic<bool>& stop);
  RolloutWorkerStats stats() const;
  const std::string& worker_id() const;
  int metrics_port() const;
  int grpc_port() const;

 private:
  struct State;
  explicit RolloutWorker(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::rollout

#endif  // R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_
