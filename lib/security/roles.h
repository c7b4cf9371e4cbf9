// Who may call what over gRPC. Every caller presents a bearer token; the token names a role,
// and each RPC method admits a fixed set of roles (admin admits itself everywhere):
//
//   method                                           roles
//   /grpc.health.v1.Health/*                         anyone, no token (probes carry no secrets)
//   /r1rl.v1.Controller/{Register,Heartbeat,         worker
//     LeasePrompts,FetchWeights,ReportStatus}
//   /r1rl.v1.ParamBroadcast/{Join,Sync,Reparent,     worker
//     Status}
//   /r1rl.v1.RewardGrader/Status                     grader
//   everything else: Admin.*, ParamBroadcast.Publish,  admin only
//     RewardGrader.Grade (runs code), RolloutWorker.Status, unknown methods
//
// The learner holds the admin token (it publishes weights); `r1rl cluster`/`r1rl admin`
// read it from the keys folder. docs/security.md has the table with the reasons.
#ifndef R1RL_LIB_SECURITY_ROLES_H_
#define R1RL_LIB_SECURITY_ROLES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace r1rl::security {

enum class Role { kWorker, kGrader, kAdmin, kMetrics };

const char* RoleName(Role role);                        // "worker", "grader", "admin", "metrics"
std::optional<Role> ParseRole(absl::string_view name);  // the inverse; nullopt for others

// True when `method` ("/package.Service/Method") needs no token at all.
bool IsOpenMethod(absl::string_view method);
// True when a caller holding `role` may call `method`.
bool RoleMayCall(Role role, absl::string_view method);

}  // namespace r1rl::security

#endif  // R1RL_LIB_SECURITY_ROLES_H_
