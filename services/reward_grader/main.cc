// r1rl-reward-grader: the reward grader service (grader_server.h).
//
//   r1rl-reward-grader [--config FILE]... [--set key=value]...
//
// Keys: grader.* (sockets, threads, limits) and reward.* (weights, format, CAS, sandbox);
// docs/configuration.md. Runs until SIGTERM or SIGINT, then grades and pushes what it has
// taken and exits 0. A bad configuration exits 2 with the key named.
#include <spdlog/spdlog.h>

#include <iostream>

#include "lib/runtime/blas_core.h"
#include "lib/runtime/service_main.h"
#include "services/reward_grader/grader_server.h"

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  constexpr char kName[] = "r1rl-reward-grader";
  // Logs on stderr (stdout carries the one "serving" line); a closed pipe is not fatal.
  auto start = r1rl::runtime::StartService(
      argc, argv, kName, "rule-based rewards for rollout groups (ZeroMQ in/out, gRPC status)");
  if (!start.config) return start.exit_code;
  auto options = r1rl::reward::GraderServerOptionsFromConfig(*start.config);
  if (!options.ok()) return r1rl::runtime::FailService(kName, options.status());
  // Signals are taken synchronously by the main thread; every other thread blocks them.
  r1rl::runtime::BlockStopSignals();
  auto server = r1rl::reward::GraderServer::Start(*options);
  if (!server.ok()) return r1rl::runtime::FailService(kName, server.status());
  std::cout << "r1rl-reward-grader " << (*server)->id() << " serving; gRPC port "
            << (*server)->grpc_port() << ", metrics port " << (*server)->metrics_port()
            << std::endl;
  const int sig = r1rl::runtime::WaitForStopSignal();
  spdlog::info("signal {}: finishing the groups taken, then stopping", sig);
  (*server)->Shutdown();
  return 0;
}
