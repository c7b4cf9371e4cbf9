// `r1rl rejection-sample --model DIR --prompts FILE.jsonl --out DIR [--samples 16] [--keep 4]`:
// DeepSeek-R1's rejection sampling (lib/pipeline/rejection_sampler.h). N responses per
// prompt, kept when the rules reward them and R1's filters pass, at most M per prompt,
// deduplicated. Writes <out>/data.jsonl (SFT rows with provenance) and
// <out>/acceptance.json (overall and per prompt); prints acceptance and what rejected the
// rest.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "lib/data/prompt_dataset.h"
#include "lib/model/generation_config.h"
#include "lib/model/model_loading.h"
#include "lib/model/policy.h"
#include "lib/pipeline/model_hash.h"
#include "lib/pipeline/rejection_sampler.h"
#include "lib/rewards/grader.h"
#include "lib/runtime/threads.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::cli {
namespace {

namespace fs = std::filesystem;

struct RejectionFlags {
  ConfigFlags config;
  std::string model, prompts, out;
  int samples = 16, keep = 4, batch = 8;
  int64_t limit = 0;
  double min_language = 0.95;
  int64_t max_paragraph_chars = 2000;
};

int RunRejection(const RejectionFlags& f) {
  auto cfg = f.config.Load();
  if (!cfg.ok()) return Fail("rejection-sample", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  auto dataset = learner::PromptDataset::Load(f.prompts);
  if (!dataset.ok()) return Fail("rejection-sample", dataset.status());
  std::vector<learner::PromptRow> rows;
  while (auto r = dataset->Next()) {
    if (f.limit > 0 && static_cast<int64_t>(rows.size()) >= f.limit) break;
    rows.push_back(*r);
  }
  auto m = model::LoadModel(*cfg, f.model);
  if (!m.ok()) return Fail("rejection-sample", m.status());
  auto gopt = reward::GraderOptionsFromConfig(*cfg);
  if (!gopt.ok()) return Fail("rejection-sample", gopt.status());
  const reward::Grader grader(*gopt);
  pipeline::RejectionOptions o;
  o.samples = f.samples;
  o.keep = f.keep;
  o.generation = model::GenerationOptionsFromConfig(*cfg);
  o.format = m->format;
  o.system_prompt = cfg->GetString("prompt.system");
  o.language = gopt->language;
  o.prompts_per_batch = f.batch;
  o.filter.min_language = f.min_language;
  o.filter.max_paragraph_chars = f.max_paragraph_chars;
  o.model_version = absl::StrCat(f.model, "@", pipeline::ModelHash(f.model).substr(0, 16));
  if (auto s = pipeline::ValidateRejectionOptions(o); !s.ok()) return Fail("rejection-sample", s);
  std::error_code ec;
  fs::create_directories(f.out, ec);
  if (ec)
    return Fail("rejection-sample",
                absl::InvalidArgumentError(absl::StrCat("--out ", f.out, ": ", ec.message())));
  std::cerr << absl::StrFormat(
      "rejection-sample: %d prompts from %s, %d samples each, keep <= %d, temperature %.2f\n",
      rows.size(), f.prompts, o.samples, o.keep, o.generation.temperature);
  pipeline::RejectionSampler sampler(m->policy.get(), m->tokenizer.get(), &grader, o);
  auto report = sampler.Run(rows, [](const pipeline::RejectionProgress& p) {
    const double eta =
        p.done > 0 ? p.seconds / static_cast<double>(p.done) * static_cast<double>(p.total - p.done)
                   : 0.0;
    std::cerr << absl::StrFormat("\r%d/%d prompts  %d rows kept  %.0f s elapsed  ETA %.0f s   ",
                                 p.done, p.total, p.kept, p.seconds, eta)
              << std::flush;
  });
  std::cerr << "\n";
  if (!report.ok()) return Fail("rejection-sample", report.status());
  if (auto s = pipeline::WriteRejectionOutputs(*report, f.out + "/data.jsonl",
                                               f.out + "/acceptance.json");
      !s.ok()) {
    return Fail("rejection-sample", s);
  }
  std::cout << absl::StrFormat(
      "accepted %d of %d samples (%.1f%%); kept %d rows from %d of %d prompts (%d duplicates "
      "dropped)\n",
      report->accepted, report->samples, 100 * report->acceptance_rate(), report->kept,
      report->prompts_with_rows, report->prompts.size(), report->duplicates);
  std::cout << "rejected by rule (a response can fail several):";
  for (const auto& [k, v] : report->reasons) std::cout << absl::StrFormat("  %s %d", k, v);
  std::cout << absl::StrFormat("\n%s/data.jsonl, %s/acceptance.json\n", f.out, f.out);
  return 0;
}

}  // namespace

void RegisterRejectionSample(CLI::App& root, CommandResult* result) {
  auto f = std::make_shared<RejectionFlags>();
  auto* cmd = root.add_subcommand("rejection-sample",
                                  "R1's rejection sampling: N samples per prompt, keep the "
                                  "correct, well-formed, readable ones as SFT rows");
  f->config.AddTo(cmd);
  cmd->add_option("--model", f->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompts", f->prompts,
                  "Prompts, JSONL {\"prompt\", \"reward\", \"id\"} (learner.data's format)")
      ->required();
  cmd->add_option("--out", f->out, "Folder for data.jsonl and acceptance.json")->required();
  cmd->add_option("--samples", f->samples, "N: responses drawn per prompt")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--keep", f->keep, "M: rows kept per prompt at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--batch", f->batch, "Prompts sampled together (x N sequences)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--limit", f->limit, "Only the first N prompts (0: all)")->capture_default_str();
  cmd->add_option("--min-language", f->min_language,
                  "Share of the chain of thought in the target language")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-paragraph-chars", f->max_paragraph_chars,
                  "Longer paragraphs are rejected (0: no limit)")
      ->capture_default_str();
  cmd->callback([=] { result->exit_code = RunRejection(*f); });
}

}  // namespace r1rl::cli
