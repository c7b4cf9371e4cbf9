// Symbolic comparison with GiNaC, under a time limit.
//
// A CAS can take unbounded time or memory on hostile input ("(x+1)^100000"), and GiNaC
// cannot be interrupted, so every comparison runs in a helper process (forked once, reused,
// killed with SIGKILL at the deadline and forked again on the next call). A pool holds one
// helper per concurrent caller.
//
//   CasPool pool(/*workers=*/2);
//   CasVerdict v = pool.Compare(CasQuery{CasMode::kExpression, "((1)/(2))", "(5/10)"},
//                               absl::Milliseconds(500));   // kEqual
//
// Thread-safety: CasPool is thread-safe; each call takes one free helper.
#ifndef R1RL_LIB_REWARDS_CAS_H_
#define R1RL_LIB_REWARDS_CAS_H_

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace r1rl::reward {

enum class CasMode : char {
  kExpression = 'e',  // a == b: exactly (simplified difference is 0), else numerically at
                      // a few points for each free symbol (relative tolerance 1e-6)
  kEquation = 'q',    // a and b are "lhs-rhs" of two equations: equal when one is a
                      // nonzero constant multiple of the other
  kInequality = 'i',  // a and b are "rhs-lhs" of two "lhs < rhs" (or <=): equal when one is
                      // a positive constant multiple of the other
};

struct CasQuery {
  CasMode mode = CasMode::kExpression;
  std::string a, b;  // GiNaC parser syntax (latex_to_cas.h)
};

enum class CasVerdict { kEqual, kNotEqual, kUnparsable, kTimeout, kFailed };
const char* CasVerdictName(CasVerdict v);

// The comparison itself, in this process, with no time limit (what a helper runs).
CasVerdict CompareInProcess(const CasQuery& query);

// One helper process.
class CasHelper {
 public:
  CasHelper() = default;
  ~CasHelper();
  CasHelper(const CasHelper&) = delete;
  CasHelper& operator=(const CasHelper&) = delete;

  CasVerdict Compare(const CasQuery& query, absl::Duration timeout);
  int64_t restarts() const { return restarts_; }

 private:
  bool Start();
  void Kill();
  pid_t pid_ = -1;
  int fd_ = -1;  // our end of a socketpair
  int64_t restarts_ = 0;
};

class CasPool {
 public:
  explicit CasPool(int workers);
  CasVerdict Compare(const CasQuery& query, absl::Duration timeout);
  int64_t timeouts() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<CasHelper>> free_;
  int64_t timeouts_ = 0;
};

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_CAS_H_
