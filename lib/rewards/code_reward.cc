#include "lib/rewards/code_reward.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace r1rl::reward {
namespace {

// Output as compared: trailing whitespace of each line and trailing empty lines dropped.
std::string Canonical(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.pop_back();
    lines.push_back(line);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (const std::string& l : lines) absl::StrAppend(&out, l, "\n");
  return out;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return f.good();
}

}  // namespace

std::optional<std::string> LastFencedCodeBlock(std::string_view response) {
  const size_t close = response.rfind("```");
  if (close == std::string_view::npos || close == 0) return std::nullopt;
  const size_t open = response.rfind("```", close - 1);
  if (open == std::string_view::npos) return std::nullopt;
  // Skip the info string ("python") up to the end of the opening line.
  size_t body = response.find('\n', open + 3);
  if (body == std::string_view::npos || body > close) return std::nullopt;
  return std::string(response.substr(body + 1, close - body - 1));
}

CodeScore ScoreCode(std::string_view response, const RewardSpec& spec, const CodeOptions& options) {
  CodeScore score;
  const bool script = !spec.test_script.empty();
  score.total = script ? 1 : static_cast<int>(spec.tests.size());
  std::optional<std::string> program = LastFencedCodeBlock(response);
  if (!program) {
    score.reason = "no fenced code block in the response";
    return score;
  }
  if (script) *program = absl::StrCat(*program, "\n", spec.test_script, "\n");
  auto scratch = ScratchDir::Create();
  if (!scratch.ok()) {
    score.reason = std::string(scratch.status().message());
    return score;
  }
  const bool cpp = spec.program_language == "cpp";
  const std::string source = scratch->path() + (cpp ? "/main.cc" : "/main.py");
  if (!WriteText(source, *program)) {
    score.reason = "cannot write the program into the scratch directory";
    return score;
  }
  std::vector<std::string> argv;
  if (cpp) {
    Sandbox compiler(options.compile_limits);
    SandboxRun c = compiler.Run({options.cxx, "-std=c++17", "-O1", "-o", "main", "main.cc"}, "",
                                scratch->path());
    if (!c.ok()) {
      score.reason = absl::StrCat("compilation failed: ", c.reason);
      return score;
    }
    argv = {scratch->path() + "/main"};
  } else {
    argv = {options.python, "-I", "main.py"};
  }
  Sandbox sandbox(options.run_limits);
  if (script) {
    SandboxRun run = sandbox.Run(argv, "", scratch->path());
    score.passed = run.ok() ? 1 : 0;
    if (!run.ok()) score.reason = absl::StrCat("test script: ", run.reason);
  } else {
    for (size_t i = 0; i < spec.tests.size(); ++i) {
      SandboxRun run = sandbox.Run(argv, spec.tests[i].stdin_text, scratch->path());
      if (run.ok() && Canonical(run.stdout_text) == Canonical(spec.tests[i].expected_stdout)) {
        ++score.passed;
      } else if (score.reason.empty()) {
        score.reason = absl::StrCat("test ", i + 1, ": ", run.ok() ? "wrong output" : run.reason);
      }
    }
  }
  const bool all = spec.all_or_nothing.value_or(options.all_or_nothing);
  score.score = score.total == 0 ? 0.0
                : all            ? (score.passed == score.total ? 1.0 : 0.0)
                                 : static_cast<double>(score.passed) / score.total;
  return score;
}

}  // namespace r1rl::reward
