// The start of every service binary's main(): --config/--set parsed and loaded, logs on
// stderr at runtime.log_level under the binary's name, SIGPIPE ignored (a closed socket is
// not fatal), absl's mutex deadlock detection off (a debugging aid that costs every lock), a
// warning when security.insecure is set. Torch-free.
//
//   auto start = StartService(argc, argv, "r1rl-learner", "controller and GRPO trainer");
//   if (!start.config) return start.exit_code;   // --help, bad flags, bad config (2)
//   ...
//   if (!options.ok()) return FailService("r1rl-learner", options.status());
#ifndef R1RL_LIB_RUNTIME_SERVICE_MAIN_H_
#define R1RL_LIB_RUNTIME_SERVICE_MAIN_H_

#include <atomic>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "lib/config/config.h"

namespace r1rl::runtime {

struct ServiceStart {
  std::optional<config::Config> config;  // absent: main returns exit_code
  int exit_code = 0;
};

ServiceStart StartService(int argc, char** argv, const std::string& name,
                          const std::string& description);

// Prints "<name>: <message>" on stderr and returns `code` (2: bad input).
int FailService(const std::string& name, const absl::Status& status, int code = 2);

// SIGTERM and SIGINT set *stop (which must outlive the process's signal handling).
void StopOnSignals(std::atomic<bool>* stop);

// For a main thread that serves until told to stop: BlockStopSignals before any thread starts
// (threads inherit the mask, so SIGTERM and SIGINT reach no one else), then WaitForStopSignal
// returns the signal once one comes.
void BlockStopSignals();
int WaitForStopSignal();

}  // namespace r1rl::runtime

#endif  // R1RL_LIB_RUNTIME_SERVICE_MAIN_H_
