// What a dataset row says about its reward: `{"reward": {...}}`.
//
//   {"kind": "math",   "answer": "\\frac{14}{3}"}
//   {"kind": "exact",  "answer": "Paris"}
//   {"kind": "choice", "answer": "B"}
//   {"kind": "code",   "language": "python", "tests": [{"stdin": "1 2\n", "stdout": "3\n"}]}
//   {"kind": "code",   "language": "cpp", "test_script": "assert ...", "all_or_nothing": true}
//
// Optional on any kind: "language" for the chain of thought's target language (math,
// exact, choice; code uses "language" for the program's and "cot_language" for the CoT's).
#ifndef R1RL_LIB_REWARDS_REWARD_SPEC_H_
#define R1RL_LIB_REWARDS_REWARD_SPEC_H_

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::reward {

enum class RewardKind { kMath, kExact, kChoice, kCode };
const char* RewardKindName(RewardKind kind);

struct CodeTest {
  std::string stdin_text;
  std::string expected_stdout;
};

struct RewardSpec {
  RewardKind kind = RewardKind::kMath;
  std::string answer;                  // math, exact, choice
  std::string program_language;        // code: "python" or "cpp"
  std::vector<CodeTest> tests;         // code: stdin/stdout pairs
  std::string test_script;             // code: or a script run after the program's text
  std::optional<bool> all_or_nothing;  // code: overrides the grader's default
  std::string cot_language;            // target of language consistency ("" = default)
};

// InvalidArgument naming the field and the value ("reward.kind = \"poem\": ...").
absl::StatusOr<RewardSpec> ParseRewardSpec(const nlohmann::json& reward);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_REWARD_SPEC_H_
