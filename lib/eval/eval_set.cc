#include "lib/eval/eval_set.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace r1rl::eval {
namespace {

using Json = nlohmann::json;

// A number as a reference answer: integers without ".0", others as JSON writes them.
std::string NumberText(const Json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  const double d = v.get<double>();
  if (d == static_cast<double>(static_cast<long long>(d)) && d > -1e15 && d < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  return v.dump();
}

// The text of a scalar field ("" when absent or not a scalar).
std::string Text(const Json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return NumberText(*it);
  return "";
}

// GSM8K's answer field is a worked solution ending in "#### 18".
std::string Gsm8kFinal(const std::string& answer) {
  const size_t at = answer.rfind("####");
  if (at == std::string::npos) return answer;
  std::string tail(absl::StripAsciiWhitespace(answer.substr(at + 4)));
  return absl::StrReplaceAll(tail, {{",", ""}});
}

}  // namespace

absl::StatusOr<EvalSet> ParseEvalSet(const std::string& jsonl, const std::string& source) {
  EvalSet set;
  set.source = source;
  std::istringstream in(jsonl);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(source, ":", number);
    const Json row = Json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object())
      return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
    EvalProblem p;
    for (const char* key : {"problem", "question", "prompt"}) {
      if (p.question.empty()) p.question = Text(row, key);
    }
    if (p.question.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no question (a string \"problem\", \"question\" or \"prompt\")"));
    }
    p.answer = Text(row, "answer");
    if (!p.answer.empty() && row.contains("question") && !row.contains("problem"))
      p.answer = Gsm8kFinal(p.answer);
    if (p.answer.empty() && row.contains("reward") && row["reward"].is_object())
      p.answer = Text(row["reward"], "answer");
    if (p.answer.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no reference answer (\"answer\", or \"reward\": {\"answer\"})"));
    }
    p.id = Text(row, "unique_id");
    if (p.id.empty()) p.id = Text(row, "id");
    if (p.id.empty()) p.id = where;
    p.subject = Text(row, "subject");
    if (p.subject.empty()) p.subject = Text(row, "type");
    p.level = Text(row, "level");
    if (absl::StartsWith(p.level, "Level ")) p.level = p.level.substr(6);
    set.has_subjects = set.has_subjects || !p.subject.empty();
    set.has_levels = set.has_levels || !p.level.empty();
    set.problems.push_back(std::move(p));
  }
  if (set.problems.empty())
    return absl::InvalidArgumentError(absl::StrCat(source, ": no problems"));
  return set;
}

absl::StatusOr<EvalSet> LoadEvalSet(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("eval set ", path, ": cannot open"));
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseEvalSet(ss.str(), path);
}

}  // namespace r1rl::eval
