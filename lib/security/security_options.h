// How a service secures its sockets, read from the security.* config keys, and the layout of
// the keys folder that `r1rl keys init DIR` writes:
//
//   ca.crt ca.key                    the cluster's own certificate authority (ca.key stays
//                                    with whoever runs `keys init`; services never read it)
//   server.crt server.key            every gRPC server's certificate (DNS r1rl-server,
//                                    localhost, 127.0.0.1 and the --host names)
//   client-<role>.crt/.key           mutual-TLS client certificates (security.mtls)
//   <role>.token                     bearer tokens a client of the role sends: worker, grader,
//                                    admin, metrics (the first line is sent)
//   tokens.sha256                    "<role> <hex SHA-256 of a token>" per line: what servers
//                                    check tokens against, so a server holds no token it
//                                    does not send itself (several lines per role: rotation)
//   curve/<role>.key / .pub          CurveZMQ key pairs (Z85): learner, worker, grader,
//                                    broadcast (curve_keys.h: which socket admits which)
//
// A service reads only the files its role needs, so a Kubernetes Secret per role carries
// only those (deploy/k8s).
#ifndef R1RL_LIB_SECURITY_SECURITY_OPTIONS_H_
#define R1RL_LIB_SECURITY_SECURITY_OPTIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/metrics/exposer.h"
#include "lib/security/roles.h"

namespace r1rl::security {

struct SecurityOptions {
  bool insecure = false;       // security.insecure
  std::string keys_dir;        // security.keys_dir
  bool mtls = false;           // security.mtls
  bool metrics_token = false;  // security.metrics_token

  // The path of a file in the keys folder ("server.crt", "curve/worker.pub").
  std::string Path(const std::string& name) const;
};

// The security.* keys; InvalidArgument naming security.keys_dir when it is empty (or not a
// folder) and security.insecure is false.
absl::StatusOr<SecurityOptions> SecurityFromConfig(const config::Config& cfg);
// The same check on options built in code.
absl::Status Validate(const SecurityOptions& options);

// Reads a whole file; NotFound / PermissionDenied naming the path.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);
// The tokens in <keys_dir>/<role>.token, first line first (blank lines skipped);
// InvalidArgument when one is shorter than 16 characters.
absl::StatusOr<std::vector<std::string>> ReadTokens(const SecurityOptions& options, Role role);
// The token a client of `role` sends (the first line).
absl::StatusOr<std::string> ClientToken(const SecurityOptions& options, Role role);
// Hex SHA-256 of a token, as tokens.sha256 lists it.
std::string TokenDigest(const std::string& token);
// Digest -> role from tokens.sha256 (InvalidArgument naming the line when malformed); without
// that file, the digests of every <role>.token present.
absl::StatusOr<std::map<std::string, Role>> ServerTokenDigests(const SecurityOptions& options);

// The /metrics endpoint's options: with security.metrics_token, a bearer whose digest is a
// metrics line of tokens.sha256 is required.
absl::StatusOr<metrics::ExposerOptions> MetricsOptions(const SecurityOptions& options);

// The warning an insecure service prints at start ("" when secure).
std::string InsecureWarning(const SecurityOptions& options, const std::string& service);

}  // namespace r1rl::security

#endif  // R1RL_LIB_SECURITY_SECURITY_OPTIONS_H_
