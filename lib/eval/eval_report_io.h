// An EvalReport written down: eval.json (the settings, then the summary overall, by subject
// and by level), problems.jsonl (per problem: the reference, every extracted answer,
// correctness, the vote, the responses) and the table `r1rl eval` prints.
//
//   RETURN_IF_ERROR(WriteEvalReport(report, settings, "runs/eval"));
//   std::cout << EvalTable(report);
#ifndef R1RL_LIB_EVAL_EVAL_REPORT_IO_H_
#define R1RL_LIB_EVAL_EVAL_REPORT_IO_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "lib/eval/evaluator.h"

namespace r1rl::eval {

// {"problems", "pass@1", "cons@k", "pass@k", "mean_response_tokens", "format_rate", ...}
nlohmann::ordered_json SummaryJson(const EvalSummary& summary, int k);

// `settings` (model, data, sampling) first, then the summaries; the whole eval.json object.
nlohmann::ordered_json ReportJson(const EvalReport& report, nlohmann::ordered_json settings);

// Writes <dir>/eval.json and <dir>/problems.jsonl (the folder must exist).
absl::Status WriteEvalReport(const EvalReport& report, const nlohmann::ordered_json& settings,
                             const std::string& dir);

// The header and one row overall, per subject and per level.
std::string EvalTable(const EvalReport& report);

}  // namespace r1rl::eval

#endif  // R1RL_LIB_EVAL_EVAL_REPORT_IO_H_
