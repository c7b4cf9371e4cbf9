// `r1rl sft --model DIR --data FILE.jsonl --out DIR [--config F] [--set k=v]`: supervised
// fine-tuning on {"prompt","response"} rows (the cold start, or rejection-sampled data;
// lib/pipeline/sft_run.h). Writes the tuned model (config.json, safetensors,
// tokenizer.json, optimizer state) to --out and one JSON line of metrics per step to stdout.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "lib/model/model_loading.h"
#include "lib/model/policy.h"
#include "lib/pipeline/sft_run.h"
#include "lib/runtime/blas_probe.h"
#include "lib/runtime/threads.h"

namespace r1rl::cli {
namespace {

struct SftFlags {
  ConfigFlags config;
  std::string model, data, out;
};

int RunSftCommand(const SftFlags& flags) {
  auto cfg = flags.config.Load({"model.dir=" + flags.model});
  if (!cfg.ok()) return Fail("sft", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  runtime::LogBlasAtStartup();
  auto m = model::LoadModel(*cfg, flags.model);
  if (!m.ok()) return Fail("sft", m.status());
  pipeline::TrainingRun run;
  run.data = flags.data;
  run.out = flags.out;
  run.tokenizer_path = m->tokenizer_path;
  run.format = m->format;
  run.on_step = [](const learner::Metrics& metrics) {
    nlohmann::ordered_json line;
    line["step"] = static_cast<int64_t>(metrics.at("step"));
    for (const auto& [k, v] : metrics) {
      if (k != "step") line[k] = v;
    }
    std::cout << line.dump() << "\n" << std::flush;
  };
  auto last = pipeline::RunSft(*cfg, m->policy.get(), *m->tokenizer, run);
  if (!last.ok()) return Fail("sft", last.status());
  return 0;
}

}  // namespace

void RegisterSft(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<SftFlags>();
  auto* cmd =
      root.add_subcommand("sft", "Supervised fine-tuning on JSONL {\"prompt\",\"response\"} rows");
  flags->config.AddTo(cmd);
  cmd->add_option("--model", flags->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", flags->data, "JSONL file of {\"prompt\", \"response\"} rows")
      ->required();
  cmd->add_option("--out", flags->out, "Folder the tuned model is written to")->required();
  cmd->callback([=] { result->exit_code = RunSftCommand(*flags); });
}

}  // namespace r1rl::cli
