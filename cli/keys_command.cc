// `r1rl keys init DIR`: the CA, certificates, role tokens and CurveZMQ key pairs a cluster
// secures its sockets with (lib/security/keys.h; the layout in security_options.h).
//
//   r1rl keys init keys                          # localhost / 127.0.0.1 / r1rl-server
//   r1rl keys init keys --host learner --host param-broadcast --days 90
//
// Then every service runs with --set security.keys_dir=keys; `r1rl cluster up` does this for
// you in runs/<name>/keys. docs/security.md says what each file guards and how to rotate.
#include <iostream>

#include "cli/command.h"
#include "lib/security/keys.h"

namespace r1rl::cli {

void RegisterKeys(CLI::App& root, CommandResult* result) {
  struct Flags {
    std::string dir;
    security::KeysInitOptions options;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* keys = root.add_subcommand("keys", "Keys that secure a cluster's sockets");
  keys->require_subcommand(1);
  CLI::App* init = keys->add_subcommand(
      "init", "Make a CA, TLS certificates, role tokens and CurveZMQ key pairs in DIR");
  init->add_option("dir", flags->dir, "The keys folder (made 0700)")->required();
  init->add_option("--host", flags->options.hosts,
                   "Another name or IP address for the servers' certificate (repeatable)");
  init->add_option("--days", flags->options.days, "Certificate lifetime in days")
      ->capture_default_str();
  init->add_flag("--force", flags->options.force, "Replace the keys already in DIR");
  init->callback([flags, result] {
    if (absl::Status s = security::InitKeys(flags->dir, flags->options); !s.ok()) {
      // Keys already there is the user's input at fault, like a bad flag: exit 2.
      if (absl::IsAlreadyExists(s)) s = absl::FailedPreconditionError(s.message());
      result->exit_code = Fail("keys init", s);
      return;
    }
    std::cout << "keys in " << flags->dir
              << ": ca.crt, server.crt/.key, client-{worker,grader,admin}.crt/.key, "
                 "{worker,grader,admin,metrics}.token, curve/{learner,worker,grader}.key/.pub\n"
              << "  use them: --set security.keys_dir=" << flags->dir << "\n";
  });
}

}  // namespace r1rl::cli
