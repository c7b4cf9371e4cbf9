// r1rl-param-broadcast: the parameter-broadcast service (broadcast_server.h).
//
//   r1rl-param-broadcast [--config FILE]... [--set key=value]...
//
// Keys: broadcast.* (docs/configuration.md). Runs until SIGTERM or SIGINT and exits 0; a bad
// configuration exits 2 with the key named.
#include <spdlog/spdlog.h>

#include <iostream>

#include "lib/runtime/blas_core.h"
#include "lib/runtime/service_main.h"
#include "services/param_broadcast/broadcast_server.h"

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  constexpr char kName[] = "r1rl-param-broadcast";
  auto start = r1rl::runtime::StartService(
      argc, argv, kName, "new policy weights to every rollout worker through relay chains");
  if (!start.config) return start.exit_code;
  auto options = r1rl::broadcast::BroadcastServerOptionsFromConfig(*start.config);
  if (!options.ok()) return r1rl::runtime::FailService(kName, options.status());
  r1rl::runtime::BlockStopSignals();
  auto server = r1rl::broadcast::BroadcastServer::Start(*options);
  if (!server.ok()) return r1rl::runtime::FailService(kName, server.status());
  std::cout << "r1rl-param-broadcast serving; gRPC port " << (*server)->grpc_port() << ", chunks "
            << (*server)->chunk_endpoint() << ", metrics port " << (*server)->metrics_port()
            << std::endl;
  const int sig = r1rl::runtime::WaitForStopSignal();
  spdlog::info("signal {}: stopping", sig);
  (*server)->Shutdown();
  return 0;
}
