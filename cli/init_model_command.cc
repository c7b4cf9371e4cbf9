// `r1rl init-model --config config.json --tokenizer tokenizer.json --out DIR --seed S`:
// a randomly initialised model of that architecture, saved as a Hugging Face checkpoint.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "lib/model/model_config.h"
#include "lib/model/policy.h"

namespace r1rl::cli {
namespace {

struct InitFlags {
  std::string config;
  std::string tokenizer;
  std::string out;
  uint64_t seed = 0;
  std::string dtype = "float32";
};

int RunInitModel(const InitFlags& flags) {
  auto config = model::LoadModelConfig(flags.config);
  if (!config.ok()) return Fail("init-model", config.status());
  auto policy = model::Policy::RandomInit(*config, flags.seed, {});
  if (!policy.ok()) return Fail("init-model", policy.status());
  absl::Status saved = (*policy)->Save(flags.out, flags.dtype);
  if (!saved.ok()) return Fail("init-model", saved);
  if (!flags.tokenizer.empty()) {
    std::error_code ec;
    std::filesystem::copy_file(flags.tokenizer, flags.out + "/tokenizer.json",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      return Fail("init-model", absl::InternalError(absl::StrCat(
                                    flags.out, "/tokenizer.json: cannot copy: ", ec.message())));
    }
  }
  std::cerr << "r1rl init-model: wrote " << flags.out << " (" << config->NumParameters()
            << " parameters, seed " << flags.seed << ")\n";
  return 0;
}

}  // namespace

void RegisterInitModel(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<InitFlags>();
  auto* cmd =
      root.add_subcommand("init-model", "Write a randomly initialised model of a config.json");
  cmd->add_option("--config", flags->config, "Hugging Face config.json (llama or qwen2)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", flags->tokenizer, "tokenizer.json to copy beside the weights")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", flags->out, "Output folder")->required();
  cmd->add_option("--seed", flags->seed, "Initialisation seed");
  cmd->add_option("--dtype", flags->dtype, "Stored dtype: float32, bfloat16, float16");
  cmd->callback([=] { result->exit_code = RunInitModel(*flags); });
}

}  // namespace r1rl::cli
