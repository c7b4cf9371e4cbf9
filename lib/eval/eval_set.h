// An evaluation set: problems with a reference answer, read from JSONL under the field
// names the public sets use, so ../shared/data's files load as they are.
//
//   ASSIGN_OR_RETURN(EvalSet set, LoadEvalSet("../shared/data/math500/test.jsonl"));
//   set.problems[0].question, .answer ("\\left( 3, \\frac{\\pi}{2} \\right)"), .subject, .level
//
// Fields, first found wins:
//   question  "problem" (MATH-500, AIME 2024, AMC 2023), "question" (GSM8K), "prompt"
//             (r1rl's RL prompt rows)
//   answer    "answer": a string, or a number written back without a trailing ".0" (AMC's
//             27.0 -> "27"); GSM8K's worked solutions give the text after "####" (commas
//             dropped); r1rl's prompt rows give "reward": {"answer": ...}
//   id        "unique_id", "id" (number or string), else "<file>:<line>"
//   subject   "subject", "type" (optional); level: "level" (number or "Level 3")
// Blank lines are skipped. Any other problem — not JSON, no question, no answer — is an
// InvalidArgument naming the file and line.
#ifndef R1RL_LIB_EVAL_EVAL_SET_H_
#define R1RL_LIB_EVAL_EVAL_SET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::eval {

struct EvalProblem {
  std::string id;
  std::string question;
  std::string answer;   // the reference, as text for the math judge
  std::string subject;  // "" when the set has none
  std::string level;    // "" when the set has none; "3" for MATH's "Level 3" and 3 alike
};

struct EvalSet {
  std::string source;
  std::vector<EvalProblem> problems;
  bool has_subjects = false;
  bool has_levels = false;
};

absl::StatusOr<EvalSet> ParseEvalSet(const std::string& jsonl, const std::string& source);
absl::StatusOr<EvalSet> LoadEvalSet(const std::string& path);

}  // namespace r1rl::eval

#endif  // R1RL_LIB_EVAL_EVAL_SET_H_
