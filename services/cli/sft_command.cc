// `r1rl sft --model DIR --data FILE.jsonl --out DIR [--config F] [--set k=v]`: supervised
// fine-tuning on {"prompt","response"} rows (the cold start, or rejection-sampled data).
// Writes the tuned model (config.json, safetensors, tokenizer.json, optimizer state) to
// --out and one JSON line of metrics per step to stdout.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "services/cli/command.h"
#include "services/cli/model_loading.h"
#include "services/learner/learner_config.h"
#include "services/learner/sft_data.h"
#include "services/learner/sft_trainer.h"
#include "services/model/policy.h"
#include "services/runtime/blas_probe.h"
#include "services/runtime/threads.h"

namespace r1rl::cli {
namespace {

struct SftFlags {
  ConfigFlags config;
  std::string model, data, out;
};

int RunSft(const SftFlags& flags) {
  auto cfg = flags.config.Load({"model.dir=" + flags.model});
  if (!cfg.ok()) return Fail("sft", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  runtime::LogBlasAtStartup();
  const int64_t steps = cfg->GetInt("sft.steps"), batch_size = cfg->GetInt("sft.batch_size");
  if (steps < 1) return Fail("sft", absl::InvalidArgumentError(absl::StrCat("sft.steps = ", steps, ": must be >= 1")));
  if (batch_size < 1) {
    return Fail("sft", absl::InvalidArgumentError(absl::StrCat("sft.batch_size = ", batch_size, ": must be >= 1")));
  }
  auto m = LoadModel(*cfg, flags.model);
  if (!m.ok()) return Fail("sft", m.status());
  model::Policy* policy = m->policy.get();
  const auto& eos = policy->config().eos_token_ids;
  auto data = learner::LoadSftJsonl(flags.data, *m->tokenizer, m->format, cfg->GetString("prompt.system"),
                                    eos.empty() ? -1 : static_cast<int32_t>(eos.front()));
  if (!data.ok()) return Fail("sft", data.status());
  const int64_t max_len = policy->config().max_position_embeddings;
  for (size_t i = 0; i < data->size(); ++i) {
    const auto& ex = (*data)[i];
    if (static_cast<int64_t>(ex.prompt_ids.size() + ex.response_ids.size()) > max_len) {
      return Fail("sft", absl::InvalidArgumentError(absl::StrCat(
                             flags.data, " row ", i + 1, ": ", ex.prompt_ids.size() + ex.response_ids.size(),
                             " tokens, more than the model's max_position_embeddings ", max_len)));
    }
  }
  auto opt = learner::OptimizerOptionsFromConfig(*cfg, "sft.lr", steps);
  if (!opt.ok()) return Fail("sft", opt.status());
  const int32_t pad = policy->config().eos_token_ids.empty() ? 0 : static_cast<int32_t>(eos.front());
  learner::SftTrainer trainer(policy, *opt, pad);
  std::mt19937_64 rng(static_cast<uint64_t>(cfg->GetInt("generation.seed")));
  std::vector<size_t> order(data->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  size_t cursor = order.size();
  for (int64_t step = 0; step < steps; ++step) {
    std::vector<learner::SftExample> batch;
    while (static_cast<int64_t>(batch.size()) < batch_size) {
      if (cursor == order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      batch.push_back((*data)[order[cursor++]]);
    }
    auto m = trainer.Step(batch, cfg->GetInt("grpo.micro_batch_size"));
    if (!m.ok()) return Fail("sft", m.status());
    nlohmann::ordered_json line;
    line["step"] = step + 1;
    for (const auto& [k, v] : *m) line[k] = v;
    std::cout << line.dump() << "\n" << std::flush;
  }
  std::filesystem::create_directories(flags.out);
  if (auto s = policy->Save(flags.out); !s.ok()) return Fail("sft", s);
  if (auto s = trainer.optimizer().Save(flags.out + "/optimizer.safetensors"); !s.ok()) return Fail("sft", s);
  std::error_code ec;
  std::filesystem::copy_file(m->tokenizer_path, flags.out + "/tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return Fail("sft", absl::InternalError(absl::StrCat("copying ", m->tokenizer_path, ": ", ec.message())));
  return 0;
}

}  // namespace

void RegisterSft(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<SftFlags>();
  auto* cmd = root.add_subcommand("sft", "Supervised fine-tuning on JSONL {\"prompt\",\"response\"} rows");
  flags->config.AddTo(cmd);
  cmd->add_option("--model", flags->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", flags->data, "JSONL file of {\"prompt\", \"response\"} rows")->required();
  cmd->add_option("--out", flags->out, "Folder the tuned model is written to")->required();
  cmd->callback([=] { result->exit_code = RunSft(*flags); });
}

}  // namespace r1rl::cli
