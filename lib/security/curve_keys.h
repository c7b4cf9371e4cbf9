// CurveZMQ on the data plane, from the keys folder: each role has a key pair
// (curve/<role>.key and .pub, Z85) and a binding socket admits only the roles its data comes
// from, through a ZAP handler with allow-lists (lib/transport/zap_handler.h):
//
//   socket                              server key   admits
//   learner.rollouts_address (PULL)     learner      worker
//   learner.graders_address  (PUSH)     learner      grader
//   learner.ingest_address   (PULL)     learner      grader
//   broadcast.chunk_address  (ROUTER)   broadcast    worker
//   worker.relay_address     (ROUTER)   worker       worker
//
// A role's allow-list is every line of curve/<role>.pub (the first is its key pair's; more
// lines admit rotated keys). Refusals are counted in r1rl_zmq_refused_total{domain}.
// With security.insecure every helper gives plain-text settings.
//
//   ASSIGN_OR_RETURN(auto zap, StartZap(ctx, security, {{"ingest", "grader"}}, &registry));
//   ASSIGN_OR_RETURN(auto keys, CurveServer(security, "learner", "ingest"));
//   OpenSocket(ctx, zmq::socket_type::pull, {address, true, 100, 0, 0, keys}, field);
#ifndef R1RL_LIB_SECURITY_CURVE_KEYS_H_
#define R1RL_LIB_SECURITY_CURVE_KEYS_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "lib/metrics/metrics.h"
#include "lib/security/security_options.h"
#include "lib/transport/zap_handler.h"
#include "lib/transport/zmq_pipe.h"

namespace r1rl::security {

// The public keys curve/<role>.pub lists (first = the pair's); InvalidArgument for a line
// that is not 40 Z85 characters.
absl::StatusOr<std::set<std::string>> CurvePublicKeys(const SecurityOptions& options,
                                                      const std::string& role);

// Settings for a socket that binds as `self` and checks clients under `zap_domain`.
absl::StatusOr<transport::CurveKeys> CurveServer(const SecurityOptions& options,
                                                 const std::string& self,
                                                 const std::string& zap_domain);
// Settings for a socket that connects as `self` to a server holding `server_role`'s key.
absl::StatusOr<transport::CurveKeys> CurveClient(const SecurityOptions& options,
                                                 const std::string& self,
                                                 const std::string& server_role);

// The context's ZAP handler: domain -> the role whose keys it admits. Null (and OK) when
// security.insecure. Refusals counted in `registry` (may be null).
absl::StatusOr<std::unique_ptr<transport::ZapHandler>> StartZap(
    zmq::context_t& context, const SecurityOptions& options,
    const std::map<std::string, std::string>& domain_roles, metrics::Registry* registry);

}  // namespace r1rl::security

#endif  // R1RL_LIB_SECURITY_CURVE_KEYS_H_
