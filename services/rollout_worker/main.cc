// r1rl-rollout-worker: samples rollout groups for the controller (rollout_worker.h).
//
//   r1rl-rollout-worker --set worker.model=assets/demo-base --set worker.controller=learner:50051
//
// Keys: worker.*, prompt.*, generation.*, runtime.* (docs/configuration.md). Runs until
// SIGTERM/SIGINT (or the data is done with worker.exit_when_done). A bad configuration
// exits 2 with the key named.
#include <atomic>

#include "lib/runtime/blas_core.h"
#include "lib/runtime/service_main.h"
#include "lib/runtime/threads.h"
#include "services/rollout_worker/rollout_worker.h"

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  constexpr char kName[] = "r1rl-rollout-worker";
  auto start = r1rl::runtime::StartService(
      argc, argv, kName, "leases prompts, samples groups, pushes them to the graders");
  if (!start.config) return start.exit_code;
  r1rl::runtime::ConfigureThreads(*start.config);
  auto options = r1rl::rollout::RolloutWorkerOptionsFromConfig(*start.config);
  if (!options.ok()) return r1rl::runtime::FailService(kName, options.status());
  auto worker = r1rl::rollout::RolloutWorker::Create(*options);
  if (!worker.ok()) return r1rl::runtime::FailService(kName, worker.status());
  static std::atomic<bool> stop{false};
  r1rl::runtime::StopOnSignals(&stop);
  auto s = (*worker)->Run(stop);
  if (!s.ok()) return r1rl::runtime::FailService(kName, s, 1);
  return 0;
}
