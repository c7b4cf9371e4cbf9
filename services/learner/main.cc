// r1rl-learner: the controller and the GRPO trainer in one process (learner_service.h).
//
//   r1rl-learner --config configs/cluster.yaml --set learner.run_dir=runs/exp1
//
// Keys: learner.*, grpo.*, optim.*, generation.*, runtime.* (docs/configuration.md).
// SIGTERM/SIGINT: finishes the step in progress, saves checkpoints/final, exits 0. A bad
// configuration or dataset, or a rendezvous of ranks that never completes, exits 2 naming the
// key, file, line or missing rank. Data-parallel: start it once per rank (learner.rank or
// RANK, learner.world_size or WORLD_SIZE, MASTER_ADDR/MASTER_PORT); a rank lost mid-run ends
// the others with exit 1 naming it.
#include <atomic>
#include <iostream>

#include "lib/runtime/blas_core.h"
#include "lib/runtime/service_main.h"
#include "lib/runtime/threads.h"
#include "services/learner/learner_service.h"

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
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
    // Bad input: a key, a file, a rendezvous that never completed (a rank's address or world
    // size wrong). A rank lost mid-run is not (Unavailable: exit 1, restart to resume).
    const bool bad_input = s.code() == absl::StatusCode::kInvalidArgument ||
                           s.code() == absl::StatusCode::kNotFound ||
                           s.code() == absl::StatusCode::kDeadlineExceeded;
    return r1rl::runtime::FailService(kName, s, bad_input ? 2 : 1);
  }
  return 0;
}
