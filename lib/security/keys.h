// `r1rl keys init DIR`: everything a cluster needs to secure its sockets, made locally with
// OpenSSL (an EC P-256 certificate authority and the certificates it signs), libzmq
// (CurveZMQ key pairs, libsodium underneath) and the OS's random source (tokens). The layout
// is documented in security_options.h. Secrets are written 0600 in a 0700 folder.
//
//   KeysInitOptions o;
//   o.hosts = {"learner", "learner.r1rl.svc"};   // extra server certificate names
//   RETURN_IF_ERROR(InitKeys("keys", o));
#ifndef R1RL_LIB_SECURITY_KEYS_H_
#define R1RL_LIB_SECURITY_KEYS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace r1rl::security {

struct KeysInitOptions {
  std::vector<std::string> hosts;  // DNS names or IP addresses added to server.crt
  int days = 365;                  // certificate lifetime
  bool force = false;              // overwrite a folder that already has keys
};

// AlreadyExists when DIR already holds ca.crt and !force; InvalidArgument for a bad host or
// days; Internal when OpenSSL or libzmq fails (with their message).
absl::Status InitKeys(const std::string& dir, const KeysInitOptions& options);

// The name every server certificate carries and every client checks (TLS target name), so
// one certificate serves any address a service is reached at.
inline constexpr char kServerName[] = "r1rl-server";

// The CurveZMQ key-pair names `keys init` writes under curve/.
inline constexpr const char* kCurveRoles[] = {"learner", "worker", "grader", "broadcast"};

}  // namespace r1rl::security

#endif  // R1RL_LIB_SECURITY_KEYS_H_
