// The reward of one response: the components the row's reward spec and the configuration
// call for, and their weighted sum.
//
//   Grader grader(GraderOptionsFromConfig(cfg));
//   Grade g = grader.Grade(response, spec);   // g.reward, g.components, g.reason
//
// Components (each in [0, 1]):
//   accuracy  math (MathJudge on the extracted answer), exact (normalised string), choice
//             (the letter), or code (share of tests passed in the sandbox)
//   format    ScoreFormat with the configured style, strict or with partial credit
//   language  language consistency of the chain of thought (when its weight is non-zero)
// reward = Σ weight_c · component_c. The reason says what decided the accuracy component.
//
// Thread-safety: Grade is thread-safe.
#ifndef R1RL_LIB_REWARDS_GRADER_H_
#define R1RL_LIB_REWARDS_GRADER_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/rewards/cas.h"
#include "lib/rewards/code_reward.h"
#include "lib/rewards/format_reward.h"
#include "lib/rewards/math_equivalence.h"
#include "lib/rewards/reward_spec.h"

namespace r1rl::reward {

struct GraderOptions {
  double accuracy_weight = 1.0;
  double format_weight = 1.0;
  double language_weight = 0.0;
  FormatStyle format_style = FormatStyle::kR1Zero;
  bool format_partial_credit = false;
  std::string language = "en";  // default target of language consistency
  MathOptions math;
  int cas_workers = 2;
  CodeOptions code;
};

// Reads reward.* (docs/configuration.md); InvalidArgument naming the key and value.
absl::StatusOr<GraderOptions> GraderOptionsFromConfig(const config::Config& cfg);

struct Grade {
  double reward = 0.0;
  std::map<std::string, double> components;
  std::string reason;
  std::string answer;         // the extracted answer (math, exact, choice)
  std::string answer_source;  // where it was found (answer_extraction.h), "none" if nowhere
};

class Grader {
 public:
  explicit Grader(GraderOptions options);
  Grade Score(std::string_view response, const RewardSpec& spec) const;
  const GraderOptions& options() const { return options_; }
  int64_t cas_timeouts() const { return cas_->timeouts(); }

 private:
  GraderOptions options_;
  std::unique_ptr<CasPool> cas_;
  std::unique_ptr<MathJudge> judge_;
};

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_GRADER_H_
