// Local processes for `r1rl cluster`: free loopback ports, detached children with their logs
// in files, liveness, a stop that escalates from SIGTERM to SIGKILL, and the table of a
// cluster's processes (runs/<name>/cluster.json) that `cluster`, `admin` and `health` read.
#ifndef R1RL_CLI_CLUSTER_PROCESSES_H_
#define R1RL_CLI_CLUSTER_PROCESSES_H_

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::cli {

// A TCP port free on 127.0.0.1 now (bound, read, released: another process may still take it),
// picked below the kernel's ephemeral port range, where bind(0) and outgoing connections do not
// draw theirs.
absl::StatusOr<int> FreeLoopbackPort();

// The folder of this executable (where the service binaries are built beside `r1rl`).
std::string SelfDir();

// Starts `argv` in a session of its own (so a terminal's Ctrl-C does not reach it), stdin
// from /dev/null, stdout and stderr appended to `log_path`. Returns its pid.
absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const std::string& log_path);

// Whether `pid` runs (a zombie does not count).
bool Alive(pid_t pid);

// SIGTERM, then SIGKILL after `grace`. True when it had to kill.
bool Stop(pid_t pid, std::chrono::milliseconds grace);

// runs/<name>/cluster.json, as `r1rl cluster up` wrote it: NotFound when there is none,
// InvalidArgument when it is not a cluster table (no "services").
absl::StatusOr<nlohmann::ordered_json> ReadClusterTable(const std::string& name);

}  // namespace r1rl::cli

#endif  // R1RL_CLI_CLUSTER_PROCESSES_H_
