// Status propagation macros for absl::Status / absl::StatusOr boundaries.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
//
// Both return the failing status unchanged from the enclosing function, which must
// itself return absl::Status or absl::StatusOr<T>.
#ifndef R1RL_LIB_STATUS_STATUS_MACROS_H_
#define R1RL_LIB_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define R1RL_STATUS_CONCAT_INNER_(a, b) a##b
#define R1RL_STATUS_CONCAT_(a, b) R1RL_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status r1rl_status_ = (expr);        \
    if (!r1rl_status_.ok()) return r1rl_status_; \
  } while (false)

#define R1RL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  R1RL_ASSIGN_OR_RETURN_IMPL_(R1RL_STATUS_CONCAT_(r1rl_statusor_, __LINE__), lhs, expr)

#endif  // R1RL_LIB_STATUS_STATUS_MACROS_H_
