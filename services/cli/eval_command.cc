// `r1rl eval --model DIR --data FILE.jsonl [--k 16] [--temperature 0.6] [--top-p 0.95]`:
// R1's evaluation (services/eval/evaluator.h). A progress bar with an ETA on stderr, a table
// at the end, and in --out: eval.json (the summary overall, by subject and by level, and
// the settings) and problems.jsonl (per problem: the reference, every extracted answer,
// correctness, the vote).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "services/cli/command.h"
#include "services/cli/model_loading.h"
#include "services/eval/evaluator.h"
#include "services/model/generation_config.h"
#include "services/model/policy.h"
#include "services/runtime/threads.h"
#include "services/tokenizer/tokenizer.h"

namespace r1rl::cli {
namespace {

namespace fs = std::filesystem;

struct EvalFlags {
  ConfigFlags config;
  std::string model;
  std::string data;
  std::string out;
  int k = 16;
  int batch = 8;
  int64_t limit = 0;
  std::vector<std::string> extra;
};

nlohmann::ordered_json SummaryJson(const eval::EvalSummary& s, int k) {
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

std::string Row(const std::string& name, const eval::EvalSummary& s) {
  return absl::StrFormat("%-24s %8d %8.3f %8.3f %8.3f %9.1f %8.3f\n", name.substr(0, 24), s.problems, s.pass_at_1, s.cons_at_k,
                         s.pass_at_k, s.mean_length, s.format_rate);
}

std::string Duration(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? absl::StrFormat("%dh%02dm", t / 3600, t / 60 % 60) : absl::StrFormat("%dm%02ds", t / 60, t % 60);
}

int RunEval(const EvalFlags& f) {
  auto cfg = f.config.Load(f.extra);
  if (!cfg.ok()) return Fail("eval", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  auto set = eval::LoadEvalSet(f.data);
  if (!set.ok()) return Fail("eval", set.status());
  if (f.limit > 0 && static_cast<int64_t>(set->problems.size()) > f.limit) set->problems.resize(static_cast<size_t>(f.limit));
  auto m = LoadModel(*cfg, f.model);
  if (!m.ok()) return Fail("eval", m.status());
  auto grader_options = reward::GraderOptionsFromConfig(*cfg);
  if (!grader_options.ok()) return Fail("eval", grader_options.status());
  reward::Grader grader(*grader_options);

  eval::EvaluatorOptions o;
  o.k = f.k;
  o.generation = model::GenerationOptionsFromConfig(*cfg);
  o.format = m->format;
  o.system_prompt = cfg->GetString("prompt.system");
  o.problems_per_batch = f.batch;
  const std::string out = f.out.empty() ? "runs/eval-" + fs::path(f.data).parent_path().filename().string() : f.out;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Fail("eval", absl::InvalidArgumentError(absl::StrCat("--out ", out, ": ", ec.message())));
  std::cerr << absl::StrFormat("eval: %d problems from %s, k = %d, temperature %.2f, top-p %.2f, %d new tokens at most\n",
                               set->problems.size(), f.data, f.k, o.generation.temperature, o.generation.top_p,
                               o.generation.max_new_tokens);
  eval::Evaluator evaluator(m->policy.get(), m->tokenizer.get(), &grader, o);
  auto report = evaluator.Run(*set, [](const eval::EvalProgress& p) {
    const int width = 30;
    const int filled = static_cast<int>(width * p.done / std::max<int64_t>(1, p.total));
    const double eta = p.done > 0 ? p.seconds / static_cast<double>(p.done) * static_cast<double>(p.total - p.done) : 0.0;
    std::cerr << absl::StrFormat("\r[%s%s] %d/%d problems  pass@1 %.3f  %s elapsed  ETA %s   ", std::string(filled, '='),
                                 std::string(width - filled, ' '), p.done, p.total, p.pass_at_1, Duration(p.seconds),
                                 Duration(eta))
              << std::flush;
  });
  std::cerr << "\n";
  if (!report.ok()) return Fail("eval", report.status());

  nlohmann::ordered_json summary;
  summary["model"] = f.model;
  summary["data"] = f.data;
  summary["k"] = f.k;
  summary["temperature"] = o.generation.temperature;
  summary["top_p"] = o.generation.top_p;
  summary["max_new_tokens"] = o.generation.max_new_tokens;
  summary["seed"] = o.generation.seed;
  summary["prompt_format"] = std::string(tokenizer::PromptFormatName(o.format));
  summary["seconds"] = report->seconds;
  summary["tokens"] = report->tokens;
  summary["overall"] = SummaryJson(report->overall, f.k);
  for (const auto& [name, s] : report->by_subject) summary["by_subject"][name] = SummaryJson(s, f.k);
  for (const auto& [name, s] : report->by_level) summary["by_level"][name] = SummaryJson(s, f.k);
  std::ofstream(out + "/eval.json") << summary.dump(2) << "\n";
  std::ofstream lines(out + "/problems.jsonl");
  for (const eval::ProblemResult& r : report->problems) {
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

  const std::string header = absl::StrFormat("%-24s %8s %8s %8s %8s %9s %8s\n", "", "problems", "pass@1",
                                             absl::StrCat("cons@", f.k), absl::StrCat("pass@", f.k), "mean len", "format");
  std::cout << header << Row("overall", report->overall);
  for (const auto& [name, s] : report->by_subject) std::cout << Row(name, s);
  for (const auto& [name, s] : report->by_level) std::cout << Row("level " + name, s);
  std::cout << absl::StrFormat("%d tokens in %.1f s (%.0f tokens/s); %s/eval.json, %s/problems.jsonl\n", report->tokens,
                               report->seconds, static_cast<double>(report->tokens) / std::max(1e-9, report->seconds), out,
                               out);
  return 0;
}

}  // namespace

void RegisterEval(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<EvalFlags>();
  auto* cmd = root.add_subcommand("eval", "R1's evaluation: pass@1 over k samples, cons@k, pass@k, by subject and level");
  flags->config.AddTo(cmd);
  cmd->add_option("--model", flags->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", flags->data, "Problems, JSONL (MATH-500, GSM8K, AIME, AMC field names, or r1rl prompt rows)")
      ->required();
  cmd->add_option("--k", flags->k, "Samples per problem")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--batch", flags->batch, "Problems sampled together (x k sequences)")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--limit", flags->limit, "Only the first N problems (0: all)")->capture_default_str();
  cmd->add_option("--out", flags->out, "Folder for eval.json and problems.jsonl (default runs/eval-<data folder>)");
  // R1's sampling settings unless a flag says otherwise (a flag's override comes later).
  flags->extra = {"generation.temperature=0.6", "generation.top_p=0.95"};
  AddConfigOverride(cmd, &flags->extra, "--temperature", "generation.temperature", "Sampling temperature (default 0.6)");
  AddConfigOverride(cmd, &flags->extra, "--top-p", "generation.top_p", "Nucleus sampling mass (default 0.95)");
  AddConfigOverride(cmd, &flags->extra, "--max-new-tokens", "generation.max_new_tokens",
                    "Most tokens per response (default generation.max_new_tokens)");
  AddConfigOverride(cmd, &flags->extra, "--format", "prompt.format", "Prompt template: raw, r1-zero, qwen-chat (default prompt.format)");
  AddConfigOverride(cmd, &flags->extra, "--seed", "generation.seed", "Sampler seed");
  cmd->callback([=] { result->exit_code = RunEval(*flags); });
}

}  // namespace r1rl::cli
