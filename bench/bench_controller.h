// The controller the control- and data-plane benches run against (lease_bench, ingest_bench):
// a real ControllerServer on loopback (gRPC, ZeroMQ, RocksDB buffer under `dir`) over
// `prompts` rows "<i>+1=", its lease window opened wide so every call grants leases and none
// expires; `endless` cycles the rows forever. `credentials`, when given, replace those
// `security` makes on the gRPC port (ControllerOptions::grpc_credentials_override).
#ifndef R1RL_BENCH_BENCH_CONTROLLER_H_
#define R1RL_BENCH_BENCH_CONTROLLER_H_

#include <grpcpp/security/server_credentials.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/controller/controller_server.h"

namespace r1rl::bench {

inline absl::StatusOr<std::unique_ptr<learner::ControllerServer>> StartBenchController(
    const security::SecurityOptions& security, const std::string& dir, int prompts, int group_size,
    bool endless, std::shared_ptr<grpc::ServerCredentials> credentials = nullptr) {
  std::string jsonl;
  for (int i = 0; i < prompts; ++i) {
    jsonl += "{\"prompt\": \"" + std::to_string(i) +
             "+1=\", \"reward\": {\"kind\": \"math\", \"answer\": \"" + std::to_string(i + 1) +
             "\"}}\n";
  }
  auto dataset = learner::PromptDataset::Parse(jsonl, "bench.jsonl");
  if (!dataset.ok()) return dataset.status();
  if (endless) dataset->set_epochs(0);
  learner::ControllerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.rollouts_address = o.graders_address = o.ingest_address = "tcp://127.0.0.1:*";
  o.metrics_address = "127.0.0.1:0";
  o.buffer_path = dir + "/buffer";
  o.group_size = group_size;
  o.leases.groups_per_step = int64_t{1} << 40;
  o.leases.lease_duration = std::chrono::hours(1);
  o.security = security;
  o.grpc_credentials_override = std::move(credentials);
  std::filesystem::remove_all(o.buffer_path);
  return learner::ControllerServer::Start(o, std::move(*dataset));
}

}  // namespace r1rl::bench

#endif  // R1RL_BENCH_BENCH_CONTROLLER_H_
