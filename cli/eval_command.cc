// `r1rl eval --model DIR --data FILE.jsonl [--k 16] [--temperature 0.6] [--top-p 0.95]`:
// R1's evaluation (lib/eval/evaluator.h). A progress bar with an ETA on stderr, a table
// at the end, and in --out: eval.json (the summary overall, by subject and by level, and
// the settings) and problems.jsonl (per problem: the reference, every extracted answer,
// correctness, the vote).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "lib/eval/eval_report_io.h"
#include "lib/eval/evaluator.h"
#include "lib/model/generation_config.h"
#include "lib/model/model_loading.h"
#include "lib/model/policy.h"
#include "lib/runtime/threads.h"
#include "lib/tokenizer/tokenizer.h"

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

std::string Duration(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? absl::StrFormat("%dh%02dm", t / 3600, t / 60 % 60)
                   : absl::StrFormat("%dm%02ds", t / 60, t % 60);
}

int RunEval(const EvalFlags& f) {
  auto cfg = f.config.Load(f.extra);
  if (!cfg.ok()) return Fail("eval", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  auto set = eval::LoadEvalSet(f.data);
  if (!set.ok()) return Fail("eval", set.status());
  if (f.limit > 0 && static_cast<int64_t>(set->problems.size()) > f.limit)
    set->problems.resize(static_cast<size_t>(f.limit));
  auto m = model::LoadModel(*cfg, f.model);
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
  const std::string out =
      f.out.empty() ? "runs/eval-" + fs::path(f.data).parent_path().filename().string() : f.out;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    return Fail("eval",
                absl::InvalidArgumentError(absl::StrCat("--out ", out, ": ", ec.message())));
  std::cerr << absl::StrFormat(
      "eval: %d problems from %s, k = %d, temperature %.2f, top-p %.2f, %d new tokens at most\n",
      set->problems.size(), f.data, f.k, o.generation.temperature, o.generation.top_p,
      o.generation.max_new_tokens);
  eval::Evaluator evaluator(m->policy.get(), m->tokenizer.get(), &grader, o);
  auto report = evaluator.Run(*set, [](const eval::EvalProgress& p) {
    const int width = 30;
    const int filled = static_cast<int>(width * p.done / std::max<int64_t>(1, p.total));
    const double eta =
        p.done > 0 ? p.seconds / static_cast<double>(p.done) * static_cast<double>(p.total - p.done)
                   : 0.0;
    std::cerr << absl::StrFormat("\r[%s%s] %d/%d problems  pass@1 %.3f  %s elapsed  ETA %s   ",
                                 std::string(filled, '='), std::string(width - filled, ' '), p.done,
                                 p.total, p.pass_at_1, Duration(p.seconds), Duration(eta))
              << std::flush;
  });
  std::cerr << "\n";
  if (!report.ok()) return Fail("eval", report.status());

  nlohmann::ordered_json settings;
  settings["model"] = f.model;
  settings["data"] = f.data;
  settings["temperature"] = o.generation.temperature;
  settings["top_p"] = o.generation.top_p;
  settings["max_new_tokens"] = o.generation.max_new_tokens;
  settings["seed"] = o.generation.seed;
  settings["prompt_format"] = std::string(tokenizer::PromptFormatName(o.format));
  if (auto s = eval::WriteEvalReport(*report, settings, out); !s.ok()) return Fail("eval", s);
  std::cout << eval::EvalTable(*report);
  std::cout << absl::StrFormat(
      "%d tokens in %.1f s (%.0f tokens/s); %s/eval.json, %s/problems.jsonl\n", report->tokens,
      report->seconds, static_cast<double>(report->tokens) / std::max(1e-9, report->seconds), out,
      out);
  return 0;
}

}  // namespace

void RegisterEval(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<EvalFlags>();
  auto* cmd = root.add_subcommand(
      "eval", "R1's evaluation: pass@1 over k samples, cons@k, pass@k, by subject and level");
  flags->config.AddTo(cmd);
  cmd->add_option("--model", flags->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", flags->data,
                  "Problems, JSONL (MATH-500, GSM8K, AIME, AMC field names, or r1rl prompt rows)")
      ->required();
  cmd->add_option("--k", flags->k, "Samples per problem")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--batch", flags->batch, "Problems sampled together (x k sequences)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--limit", flags->limit, "Only the first N problems (0: all)")
      ->capture_default_str();
  cmd->add_option("--out", flags->out,
                  "Folder for eval.json and problems.jsonl (default runs/eval-<data folder>)");
  // R1's sampling settings unless a flag says otherwise (a flag's override comes later).
  flags->extra = {"generation.temperature=0.6", "generation.top_p=0.95"};
  AddConfigOverride(cmd, &flags->extra, "--temperature", "generation.temperature",
                    "Sampling temperature (default 0.6)");
  AddConfigOverride(cmd, &flags->extra, "--top-p", "generation.top_p",
                    "Nucleus sampling mass (default 0.95)");
  AddConfigOverride(cmd, &flags->extra, "--max-new-tokens", "generation.max_new_tokens",
                    "Most tokens per response (default generation.max_new_tokens)");
  AddConfigOverride(cmd, &flags->extra, "--format", "prompt.format",
                    "Prompt template: raw, r1-zero, qwen-chat (default prompt.format)");
  AddConfigOverride(cmd, &flags->extra, "--seed", "generation.seed", "Sampler seed");
  cmd->callback([=] { result->exit_code = RunEval(*flags); });
}

}  // namespace r1rl::cli
