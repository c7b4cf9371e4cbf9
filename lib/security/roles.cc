#include "lib/security/roles.h"

#include <array>

#include "absl/strings/match.h"

namespace r1rl::security {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kWorker:
      return "worker";
    case Role::kGrader:
      return "grader";
    case Role::kAdmin:
      return "admin";
    case Role::kMetrics:
      return "metrics";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kWorker, Role::kGrader, Role::kAdmin, Role::kMetrics}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/");
}

bool RoleMayCall(Role role, absl::string_view method) {
  if (IsOpenMethod(method) || role == Role::kAdmin) return true;
  static constexpr std::array<absl::string_view, 9> kWorker = {
      "/r1rl.v1.Controller/Register",     "/r1rl.v1.Controller/Heartbeat",
      "/r1rl.v1.Controller/LeasePrompts", "/r1rl.v1.Controller/FetchWeights",
      "/r1rl.v1.Controller/ReportStatus", "/r1rl.v1.ParamBroadcast/Join",
      "/r1rl.v1.ParamBroadcast/Sync",     "/r1rl.v1.ParamBroadcast/Reparent",
      "/r1rl.v1.ParamBroadcast/Status"};
  static constexpr std::array<absl::string_view, 1> kGrader = {"/r1rl.v1.RewardGrader/Status"};
  switch (role) {
    case Role::kWorker:
      for (absl::string_view m : kWorker) {
        if (m == method) return true;
      }
      return false;
    case Role::kGrader:
      for (absl::string_view m : kGrader) {
        if (m == method) return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace r1rl::security
