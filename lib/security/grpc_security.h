// TLS and role tokens on the gRPC control plane.
//
// Server side: ServerCredentials() gives TLS with server.crt (and, with security.mtls, a
// required client certificate signed by ca.crt) plus an AuthMetadataProcessor that reads
// "authorization: Bearer <token>" on every call, maps the token to a role and checks the
// method against roles.h's table: no or unknown token -> UNAUTHENTICATED, a known token
// whose role may not call the method -> PERMISSION_DENIED. Both are counted in
// r1rl_grpc_refused_total{reason, method}. r1rl_security_insecure is 1 when
// security.insecure (then the credentials are plain, with no checks).
//
// Client side: OpenChannel() gives a channel with TLS (trusting only ca.crt, checking the
// server name r1rl-server), the role's client certificate under mTLS, and the role's token
// on each call.
//
//   ASSIGN_OR_RETURN(auto creds, ServerCredentials(options.security, &registry));
//   builder.AddListeningPort(address, creds, &port);
//   ASSIGN_OR_RETURN(auto channel, OpenChannel(controller, options.security, Role::kWorker));
#ifndef R1RL_LIB_SECURITY_GRPC_SECURITY_H_
#define R1RL_LIB_SECURITY_GRPC_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/metrics/metrics.h"
#include "lib/security/roles.h"
#include "lib/security/security_options.h"

namespace r1rl::security {

// Registers r1rl_grpc_refused_total and r1rl_security_insecure in `registry` (null: not
// counted).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const SecurityOptions& options, metrics::Registry* registry);

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const std::string& target, const SecurityOptions& options, Role role,
    grpc::ChannelArguments args = grpc::ChannelArguments());

}  // namespace r1rl::security

#endif  // R1RL_LIB_SECURITY_GRPC_SECURITY_H_
