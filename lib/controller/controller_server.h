// The controller (the learner's rank 0): serves r1rl.v1.Controller (Register, Heartbeat,
// LeasePrompts, FetchWeights, ReportStatus) and r1rl.v1.Admin (Pause, Resume, Drain,
// CheckpointNow, Status) over gRPC with grpc.health.v1,
// ingests graded RolloutGroups from a ZeroMQ PULL socket into the RocksDB rollout buffer,
// and hands the trainer its batches within the staleness bound. Prometheus on /metrics.
//
//   ASSIGN_OR_RETURN(auto controller, ControllerServer::Start(options, std::move(dataset)));
//   ASSIGN_OR_RETURN(auto batch, controller->TakeBatch(/*groups=*/16, deadline));
//   ... train ...
//   controller->SetPolicyVersion(step);
//
// Ingest: a group counts as received once the buffer has written it. A group whose lease
// was already ingested is a duplicate (dropped, counted); one for a lease this controller
// never granted, without a lease id, not graded, malformed or oversized is rejected and
// counted by reason; the controller keeps serving. Bad RPC fields (max_prompts outside
// 1..1024, an unknown worker id) get INVALID_ARGUMENT / NOT_FOUND naming the field and value,
// and a counter.
#ifndef R1RL_LIB_CONTROLLER_CONTROLLER_SERVER_H_
#define R1RL_LIB_CONTROLLER_CONTROLLER_SERVER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/controller/lease_manager.h"
#include "lib/controller/rollout_buffer.h"
#include "lib/data/prompt_dataset.h"
#include "lib/metrics/metrics.h"
#include "lib/security/security_options.h"
#include "r1rl/v1/controller.pb.h"

namespace grpc {
class ServerCredentials;
}  // namespace grpc

namespace r1rl::learner {

struct ControllerOptions {
  std::string grpc_address = "127.0.0.1:50051";
  // The data plane's stable endpoints, all bound here so workers and graders only connect
  // (and scale without discovery): workers PUSH rollouts to `rollouts_address`; they are
  // forwarded to graders, which PULL from `graders_address`; graders PUSH graded groups
  // to `ingest_address`.
  std::string rollouts_address = "tcp://127.0.0.1:5555";
  std::string graders_address = "tcp://127.0.0.1:5556";
  std::string ingest_address = "tcp://127.0.0.1:5557";
  std::string metrics_address = "127.0.0.1:9101";
  std::string buffer_path = "runs/controller/buffer";
  int64_t buffer_min_free_bytes = int64_t{64} << 20;  // RolloutBufferOptions::min_free_bytes
  LeaseOptions leases;
  int32_t group_size = 8;
  std::chrono::milliseconds heartbeat_interval{2000};
  size_t max_message_bytes = 64u << 20;
  // Grant no lease before the first PublishWeights (the learner's case: a worker must never
  // sample with other weights under the learner's version number). A bare controller
  // (tests, tools) leaves it off: workers then sample with their own weights.
  bool lease_after_weights = false;
  // The param-broadcast service workers take weights from (RegisterResponse tells them; "":
  // none, workers use FetchWeights). The learner publishes there itself.
  std::string broadcast_address;
  // Continue from the resume point in the buffer's meta, when there is one: the dataset
  // from its position, the version from its step; groups buffered but not trained are
  // dropped (their prompts are leased again) and counted.
  bool resume = true;
  // A graded group with a sample's reward outside [reward_min, reward_max] is refused (and
  // counted): no grader can push a reward of 100 into training.
  double reward_min = -10.0, reward_max = 10.0;
  // TLS and role tokens on the gRPC port, the /metrics token (security.*).
  security::SecurityOptions security;
  // When set, the gRPC port uses these credentials instead of those `security` makes: for
  // benches that take the transport apart (lease_bench's TLS without tokens). Never set by
  // a service.
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials_override;
};

// Where a restarted learner picks up: written to the buffer's meta after each checkpoint.
struct ResumePoint {
  int64_t step = 0;              // the policy version the checkpoint holds
  int64_t dataset_position = 0;  // LeaseManager::ResumePosition() then
  std::string checkpoint;        // its folder
  uint64_t groups_dropped = 0;   // buffered, untrained, dropped at this start
};

struct TrainBatch {
  std::vector<v1::RolloutGroup> groups;
  int64_t stale_dropped = 0;  // groups too old for the current version, consumed and counted
};

class ControllerServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(ControllerOptions options,
                                                                 PromptDataset dataset);
  ~ControllerServer();

  // Waits until `groups` trainable groups are buffered or the deadline passes, consumes
  // and returns them (fewer, possibly none, at the deadline); stale ones on the way are
  // dropped and counted. Errors only from storage.
  absl::StatusOr<TrainBatch> TakeBatch(int64_t groups,
                                       std::chrono::steady_clock::time_point deadline);
  // Of the groups TakeBatch returned, `groups` will not be trained on (filtered, bad): they
  // free their place in the staleness window (lease_manager.h).
  void DiscardGroups(int64_t groups);
  void SetPolicyVersion(int64_t version);
  // The trainer is done with these leases' groups (trained on, or dropped for good).
  void Trained(const std::vector<std::string>& lease_ids);
  // Records (synced) that `checkpoint` holds the policy after `step` steps, with the
  // dataset position to resume from.
  absl::Status SaveResumePoint(int64_t step, const std::string& checkpoint);
  // The point this start resumed from; nullopt for a fresh run.
  const std::optional<ResumePoint>& resumed_from() const;
  // Admin.CheckpointNow: the number of the newest pending request (0: none). The trainer
  // looks between steps (and while it waits for rollouts), saves, then reports with
  // CheckpointSaved(that number, ...), which answers every request up to it.
  int64_t PendingCheckpoints() const;
  void CheckpointSaved(int64_t served_through, int64_t step, const std::string& path);
  // Admin.Drain was called: no new prompts are leased; the trainer finishes what is out.
  bool draining() const;
  // Makes `safetensors_bytes` the weights workers fetch (Controller.FetchWeights: chunks of
  // 1 MiB, the SHA-256 in the first), as `version`. Publish before SetPolicyVersion, so a
  // worker told of a version can fetch it.
  void PublishWeights(int64_t version, std::string safetensors_bytes);
  // The /metrics registry: the learner adds its own families beside the controller's.
  metrics::Registry& registry();
  v1::ControllerStatus Status() const;

  int grpc_port() const;
  int metrics_port() const;
  std::string ingest_endpoint() const;  // the bound addresses, ports resolved
  std::string rollouts_endpoint() const;
  std::string graders_endpoint() const;
  void Shutdown();

 private:
  struct State;
  explicit ControllerServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_CONTROLLER_SERVER_H_
