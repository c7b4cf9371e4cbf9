// Deciding whether a predicted math answer equals the reference answer.
//
//   CasPool cas(2);
//   MathJudge judge(&cas);
//   judge.Judge("\\frac{14}{3}", "14/3").equivalent;          // true ("numeric")
//   judge.Judge("x^2+2x+1", "(x+1)^2").equivalent;             // true ("cas")
//   judge.Judge("\\{1,2\\}", "\\{2, 1\\}").equivalent;          // true (sets are order-free)
//   judge.Judge("(1,2]", "(1,2)").equivalent;                   // false (interval ends differ)
//
// Both sides are first narrowed to their final answer (FinalAnswerInText: boxes, $…$, a
// sentence around it; the reference too), normalised (latex_normalize.h), then compared: as
// strings; as a choice letter when the reference is one (A-E); "x \in S" as S; a lone "\pm"
// against a list as its two values ("x = \pm 2" is "2, -2"); a chain
// "x = 5+5+1 = 11" as its last side; "(p,q) = (3,2)" or "x = 3" against a bare value as the
// value; as structures — tuples and intervals in order with the same brackets, sets, bare
// lists and unions order-free, matrices entry by entry; an inequality in one unknown against
// an interval as the interval it describes ("0 < f(x) < 1" is "(0,1)"); each scalar as a
// plain number (relative tolerance), then symbolically with GiNaC under a time limit
// (cas.h): equations "lhs = rhs" as proportional "lhs - rhs", inequalities as "rhs - lhs"
// up to a positive factor ("x < 1" is "-x > -1"; strict and non-strict differ).
//
// Thread-safety: Judge is const and thread-safe (the CAS pool is).
#ifndef R1RL_LIB_REWARDS_MATH_EQUIVALENCE_H_
#define R1RL_LIB_REWARDS_MATH_EQUIVALENCE_H_

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "lib/rewards/cas.h"

namespace r1rl::reward {

struct MathOptions {
  // Plain numbers: |a-b| <= tol * max(1, |a|, |b|); two integers must be equal exactly.
  double relative_tolerance = 1e-4;
  absl::Duration cas_timeout = absl::Milliseconds(1000);
};

struct MathJudgement {
  bool equivalent = false;
  // How it was decided: "string", "choice", "numeric", "cas", "structure", or why not:
  // "different", "cas_timeout", "empty", "too_long" (an answer over kMaxAnswerChars).
  std::string how;
};

class MathJudge {
 public:
  explicit MathJudge(CasPool* cas, MathOptions options = {}) : cas_(cas), options_(options) {}
  MathJudgement Judge(std::string_view reference, std::string_view predicted) const;

 private:
  // Two normalised scalars (no top-level comma).
  MathJudgement Scalar(const std::string& a, const std::string& b) const;
  MathJudgement Structured(const std::string& a, const std::string& b) const;
  // Two relations with an inequality or != among them ("x<1" against "-x>-1").
  MathJudgement Relations(const std::string& a, const std::string& b) const;
  CasPool* cas_;
  MathOptions options_;
};

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_MATH_EQUIVALENCE_H_
