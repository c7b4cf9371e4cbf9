#include "lib/eval/eval_report_io.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace r1rl::eval {
namespace {

std::string Row(const std::string& name, const EvalSummary& s) {
  return absl::StrFormat("%-24s %8d %8.3f %8.3f %8.3f %9.1f %8.3f\n", name.substr(0, 24),
                         s.problems, s.pass_at_1, s.cons_at_k, s.pass_at_k, s.mean_length,
                         s.format_rate);
}

}  // namespace

nlohmann::ordered_json SummaryJson(const EvalSummary& s, int k) {
  nlohmann::ordered_json j;
  j["problems"] = s.problems;
  j["pass@1"] = s.pass_at_1;
  j[absl::StrCat("cons@", k)] = s.cons_at_k;
  j[absl::StrCat("pass@", k)] = s.pass_at_k;
  j["mean_response_tokens"] = s.mean_length;
  j["format_rate"] = s.format_rate;
  j["truncated"] = s.truncated;
  j["no_answer"] = s.no_answer;
  return j;
}

nlohmann::ordered_json ReportJson(const EvalReport& report, nlohmann::ordered_json j) {
  j["k"] = report.k;
  j["seconds"] = report.seconds;
  j["tokens"] = report.tokens;
  j["overall"] = SummaryJson(report.overall, report.k);
  for (const auto& [name, s] : report.by_subject) j["by_subject"][name] = SummaryJson(s, report.k);
  for (const auto& [name, s] : report.by_level) j["by_level"][name] = SummaryJson(s, report.k);
  return j;
}

absl::Status WriteEvalReport(const EvalReport& report, const nlohmann::ordered_json& settings,
                             const std::string& dir) {
  {
    std::ofstream out(dir + "/eval.json");
    out << ReportJson(report, settings).dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", dir, "/eval.json"));
  }
  std::ofstream lines(dir + "/problems.jsonl");
  for (const ProblemResult& r : report.problems) {
    nlohmann::ordered_json j;
    j["id"] = r.problem.id;
    j["reference"] = r.problem.answer;
    if (!r.problem.subject.empty()) j["subject"] = r.problem.subject;
    if (!r.problem.level.empty()) j["level"] = r.problem.level;
    j["pass@1"] = r.pass_at_1;
    j["majority"] = r.vote.answer;
    j["majority_votes"] = r.vote.votes;
    j["voters"] = r.vote.voters;
    j["tie"] = r.vote.tie;
    j["cons_correct"] = r.cons_correct;
    j["answers"] = r.answers;
    j["correct"] = r.correct;
    j["finish"] = r.finish;
    j["response_tokens"] = r.lengths;
    j["responses"] = r.responses;
    lines << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (!lines) return absl::InternalError(absl::StrCat("cannot write ", dir, "/problems.jsonl"));
  return absl::OkStatus();
}

std::string EvalTable(const EvalReport& report) {
  std::string out = absl::StrFormat("%-24s %8s %8s %8s %8s %9s %8s\n", "", "problems", "pass@1",
                                    absl::StrCat("cons@", report.k),
                                    absl::StrCat("pass@", report.k), "mean len", "format");
  out += Row("overall", report.overall);
  for (const auto& [name, s] : report.by_subject) out += Row(name, s);
  for (const auto& [name, s] : report.by_level) out += Row("level " + name, s);
  return out;
}

}  // namespace r1rl::eval
