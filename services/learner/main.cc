// r1rl-learner: the controller and the GRPO trainer in one process (learner_service.h).
//
//   r1rl-learner --config configs/cluster.yaml --set learner.run_dir=runs/exp1
//
// Keys: learner.*, grpo.*, optim.*, generation.*, runtime.* (docs/configuration.md).
// SIGTERM/SIGINT: finishes the step in progress, saves checkpoints/final, exits 0. A bad
// configuration or dataset exits 2 naming the key, file or line.
#include <atomic>
#include <iostream>

#include "lib/runtime/service_main.h"
#include "lib/runtime/threads.h"
#include "services/learner/learner_service.h"

int main(int argc, char** argv) {
  constexpr char kName[] = "r1rl-learner";
  auto start = r1rl::runtime::StartService(
      argc, argv, kName, "controller (leases, RocksDB rollout buffer) and GRPO trainer");
  if (!start.config) return start.exit_code;
  r1rl::runtime::ConfigureThreads(*start.config);
  auto options = r1rl::learner::LearnerOptionsFromConfig(*start.config);
  if (!options.ok()) return r1rl::runtime::FailService(kName, options.status());
  static std::atomic<bool> stop{false};
  r1rl::runtime::StopOnSignals(&stop);
  auto s = r1rl::learner::RunLearner(*options, stop, std::cout);
  if (!s.ok()) {
    const bool bad_input =
        s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound;
    return r1rl::runtime::FailService(kName, s, bad_input ? 2 : 1);
  }
  return 0;
}
