// R1's evaluation of a policy on a problem set: k sampled responses per problem, graded by
// the reward grader's rules, summarised as pass@1 (mean correctness over the k), cons@k
// (majority vote over the extracted answers, grouped by math equivalence), pass@k (the
// unbiased estimator), mean response length and the format-reward rate — overall and per
// subject and level when the set has them.
//
//   Evaluator ev(policy.get(), tok.get(), &grader, options);
//   ASSIGN_OR_RETURN(EvalReport report, ev.Run(set, [](const EvalProgress& p) { ... }));
//   report.overall.pass_at_1, report.overall.cons_at_k, report.problems[i].votes ...
//
// Samples are drawn `problems_per_batch` problems at a time (x k sequences per Generate
// call). The draws depend on (seed, problems_per_batch, problem index, sample index): the
// same settings give the same report.
#ifndef R1RL_LIB_EVAL_EVALUATOR_H_
#define R1RL_LIB_EVAL_EVALUATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/eval/eval_set.h"
#include "lib/eval/sample_metrics.h"
#include "lib/model/generator.h"
#include "lib/rewards/grader.h"
#include "lib/tokenizer/prompt_template.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::tokenizer {
class Tokenizer;
}

namespace r1rl::eval {

struct EvaluatorOptions {
  int k = 16;                           // samples per problem
  model::GenerationOptions generation;  // temperature 0.6, top-p 0.95 as R1 (set by the caller)
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
  std::string system_prompt;
  int problems_per_batch = 8;
};

struct ProblemResult {
  EvalProblem problem;
  std::vector<std::string> responses;
  std::vector<std::string> answers;  // extracted ("" when none)
  std::vector<bool> correct;
  std::vector<double> format;       // format reward of each response (1: well formed)
  std::vector<int64_t> lengths;     // completion tokens
  std::vector<std::string> finish;  // stop, length
  Vote vote;
  bool cons_correct = false;  // the majority answer is correct
  double pass_at_1 = 0;
  double pass_at_k = 0;
};

struct EvalSummary {
  int64_t problems = 0;
  double pass_at_1 = 0;    // mean over problems of each problem's pass@1
  double cons_at_k = 0;    // share of problems whose majority answer is correct
  double pass_at_k = 0;    // mean of the unbiased pass@k
  double mean_length = 0;  // completion tokens, over all samples
  double format_rate = 0;  // mean format reward, over all samples
  double truncated = 0;    // share of samples cut at max_new_tokens
  double no_answer = 0;    // share of samples with no extractable answer
};

struct EvalReport {
  int k = 0;
  EvalSummary overall;
  std::map<std::string, EvalSummary> by_subject;
  std::map<std::string, EvalSummary> by_level;
  std::vector<ProblemResult> problems;
  double seconds = 0;
  int64_t tokens = 0;
};

struct EvalProgress {
  int64_t done = 0;  // problems
  int64_t total = 0;
  double seconds = 0;
  double pass_at_1 = 0;  // so far
};

class Evaluator {
 public:
  // All pointers must outlive the evaluator.
  Evaluator(model::Policy* policy, const tokenizer::Tokenizer* tokenizer,
            const reward::Grader* grader, EvaluatorOptions options);
  absl::StatusOr<EvalReport> Run(const EvalSet& set,
                                 const std::function<void(const EvalProgress&)>& progress = {});

 private:
  model::Policy* policy_;
  const tokenizer::Tokenizer* tokenizer_;
  const reward::Grader* grader_;
  EvaluatorOptions options_;
};

// Summary over `problems` (exposed for tests).
EvalSummary Summarise(const std::vector<const ProblemResult*>& problems);

}  // namespace r1rl::eval

#endif  // R1RL_LIB_EVAL_EVALUATOR_H_
