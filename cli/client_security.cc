#include "cli/client_security.h"

#include "absl/strings/str_cat.h"
#include "cli/cluster_processes.h"

namespace r1rl::cli {

void ClientSecurityFlags::AddTo(CLI::App* command) {
  command->add_option("--keys", keys_dir,
                      "The keys folder (r1rl keys init): TLS CA and the admin token");
  command->add_flag("--insecure", insecure, "Plain text, no token (a security.insecure cluster)");
  command->add_flag("--mtls", mtls, "Present client-admin.crt (a security.mtls cluster)");
}

absl::StatusOr<security::SecurityOptions> ClientSecurityFlags::Resolve(
    const std::string& name) const {
  security::SecurityOptions o;
  o.mtls = mtls;
  if (insecure) {
    o.insecure = true;
    return o;
  }
  if (!keys_dir.empty()) {
    o.keys_dir = keys_dir;
  } else {
    auto j = ReadClusterTable(name);
    if (!j.ok() || !j->contains("security")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--keys = \"\": no keys folder given and no cluster ", name, " (runs/", name,
          "/cluster.json) recorded one; pass --keys DIR (or --insecure for a security.insecure "
          "cluster)"));
    }
    const auto& recorded = (*j)["security"];
    o.insecure = recorded.value("insecure", false);
    o.keys_dir = recorded.value("keys_dir", "");
    o.mtls = o.mtls || recorded.value("mtls", false);
  }
  if (absl::Status s = security::Validate(o); !s.ok()) return s;
  return o;
}

}  // namespace r1rl::cli
