// How a command-line client secures its calls to a cluster: --keys DIR, --insecure, or the
// keys folder that `r1rl cluster up --name NAME` recorded in runs/NAME/cluster.json.
#ifndef R1RL_CLI_CLIENT_SECURITY_H_
#define R1RL_CLI_CLIENT_SECURITY_H_

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "lib/security/security_options.h"

namespace r1rl::cli {

struct ClientSecurityFlags {
  std::string keys_dir;
  bool insecure = false;
  bool mtls = false;

  void AddTo(CLI::App* command);
  // --insecure, else --keys, else the cluster `name`'s recorded keys; InvalidArgument naming
  // --keys when none applies.
  absl::StatusOr<security::SecurityOptions> Resolve(const std::string& name) const;
};

}  // namespace r1rl::cli

#endif  // R1RL_CLI_CLIENT_SECURITY_H_
