// The rollout worker: registers with the controller, leases prompts, samples G completions
// per prompt with batched KV-cached generation, and pushes each group (protobuf
// RolloutGroup) over ZeroMQ PUSH to the controller's rollouts endpoint, from where graders
// take them. Stateless: killing one loses nothing but time (its leases expire and are
// granted again).
//
//   ASSIGN_OR_RETURN(auto worker, RolloutWorker::Create(options));
//   RETURN_IF_ERROR(worker->Run(stop));   // until `stop`, or the data is done (exit_when_done)
//
// Until weights are streamed (issue 6, next), the worker samples with the checkpoint it
// loaded, as policy version 0.
#ifndef R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_
#define R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/config/config.h"
#include "services/model/generator.h"
#include "services/tokenizer/prompt_template.h"

namespace r1rl::rollout {

struct RolloutWorkerOptions {
  std::string controller = "127.0.0.1:50051";   // gRPC
  std::string output = "tcp://127.0.0.1:5555";  // the controller's rollouts endpoint
  std::string model_dir;                         // config.json, safetensors, tokenizer.json
  std::string worker_id;                         // "" = the controller names it
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

 private:
  struct State;
  explicit RolloutWorker(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::rollout

#endif  // R1RL_SERVICES_ROLLOUT_WORKER_ROLLOUT_WORKER_H_
