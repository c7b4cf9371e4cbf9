// `r1rl grade`: rule-based rewards on the command line (lib/rewards).
//
//   r1rl grade < rows.jsonl          rows {"response": "...", "reward": {"kind": ..., ...}}
//   r1rl grade --kind math --answer '\frac{14}{3}' < responses.txt     one response per line
//
// One JSON line out per line in: {"reward": x, "components": {...}, "reason": "...",
// "answer": "...", "answer_source": "..."}. A line that cannot be graded (not JSON, no
// "response", a bad reward spec) still gets a line, {"reward": 0, "error": "line N: ..."},
// the same message goes to stderr, and the exit code is 2 once all lines are done.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "lib/rewards/grader.h"

namespace r1rl::cli {
namespace {

struct GradeFlags {
  ConfigFlags config;
  std::string kind;
  std::string answer;
  bool answer_set = false;
};

nlohmann::json ToJson(const reward::Grade& g) {
  nlohmann::json out;
  out["reward"] = g.reward;
  out["components"] = g.components;
  out["reason"] = g.reason;
  out["answer"] = g.answer;
  out["answer_source"] = g.answer_source;
  return out;
}

int RunGrade(const GradeFlags& flags) {
  auto cfg = flags.config.Load();
  if (!cfg.ok()) return Fail("grade", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  auto options = reward::GraderOptionsFromConfig(*cfg);
  if (!options.ok()) return Fail("grade", options.status());
  std::optional<reward::RewardSpec> fixed;
  if (!flags.kind.empty() || flags.answer_set) {
    if (flags.kind.empty() || !flags.answer_set) {
      return Fail("grade", absl::InvalidArgumentError("--kind and --answer go together"));
    }
    auto spec = reward::ParseRewardSpec({{"kind", flags.kind}, {"answer", flags.answer}});
    if (!spec.ok()) return Fail("grade", spec.status());
    fixed = *spec;
  }
  reward::Grader grader(*options);
  std::string line;
  int64_t n = 0, bad = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string error;
    nlohmann::json out;
    if (fixed) {
      out = ToJson(grader.Score(line, *fixed));
    } else if (line.find_first_not_of(" \t") == std::string::npos) {
      error = "empty line";
    } else {
      nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (row.is_discarded() || !row.is_object()) {
        error = "not a JSON object";
      } else if (!row.contains("response") || !row["response"].is_string()) {
        error = "missing field \"response\" (a string)";
      } else if (!row.contains("reward")) {
        error = "missing field \"reward\" (e.g. {\"kind\": \"math\", \"answer\": \"42\"})";
      } else {
        auto spec = reward::ParseRewardSpec(row["reward"]);
        if (!spec.ok()) {
          error = std::string(spec.status().message());
        } else {
          out = ToJson(grader.Score(row["response"].get<std::string>(), *spec));
        }
      }
    }
    if (!error.empty()) {
      ++bad;
      const std::string message = absl::StrCat("line ", n, ": ", error);
      std::cerr << "r1rl grade: " << message << "\n";
      out = {{"reward", 0.0}, {"components", nlohmann::json::object()}, {"error", message}};
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"
              << std::flush;
  }
  if (bad > 0) {
    std::cerr << "r1rl grade: " << bad << " of " << n << " lines could not be graded\n";
    return 2;
  }
  return 0;
}

}  // namespace

void RegisterGrade(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<GradeFlags>();
  auto* cmd = root.add_subcommand(
      "grade",
      "Rule-based rewards: JSON lines {response, reward} on stdin, one JSON line out each");
  flags->config.AddTo(cmd);
  cmd->add_option("--kind", flags->kind,
                  "Grade plain responses (one per line) with this kind: math, exact, choice");
  cmd->add_option_function<std::string>(
      "--answer",
      [flags](const std::string& v) {
        flags->answer = v;
        flags->answer_set = true;
      },
      "The reference answer for --kind");
  cmd->callback([=] { result->exit_code = RunGrade(*flags); });
}

}  // namespace r1rl::cli
