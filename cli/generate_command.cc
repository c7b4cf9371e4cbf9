// `r1rl generate --model DIR --prompt TEXT [...]`: samples completions and prints one
// JSON line per completion: {"prompt_index","sample_index","text","token_ids","logprobs",
// "finish_reason"}.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "lib/model/generation_config.h"
#include "lib/model/generator.h"
#include "lib/model/model_loading.h"
#include "lib/model/policy.h"
#include "lib/runtime/blas_probe.h"
#include "lib/runtime/threads.h"
#include "lib/tokenizer/prompt_template.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::cli {
namespace {

struct GenerateFlags {
  ConfigFlags config;
  std::string model;
  std::vector<std::string> prompts;
  std::vector<std::string> extra;  // flag values turned into config overrides
};

int RunGenerate(const GenerateFlags& flags) {
  std::vector<std::string> overrides = flags.extra;
  overrides.push_back("model.dir=" + flags.model);
  auto cfg = flags.config.Load(overrides);
  if (!cfg.ok()) return Fail("generate", cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  runtime::LogBlasAtStartup();

  auto m = model::LoadModel(*cfg, flags.model);
  if (!m.ok()) return Fail("generate", m.status());

  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& p : flags.prompts) {
    prompts.push_back(m->tokenizer->Encode(
        tokenizer::RenderPrompt(m->format, p, cfg->GetString("prompt.system"))));
  }
  const model::GenerationOptions options = model::GenerationOptionsFromConfig(*cfg);

  model::Generator generator(m->policy.get(), m->tokenizer.get(), options);
  auto start = std::chrono::steady_clock::now();
  auto completions = generator.Generate(prompts, cfg->GetInt("generation.num_samples"));
  if (!completions.ok()) return Fail("generate", completions.status());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const model::Completion& c : *completions) {
    nlohmann::ordered_json line;
    line["prompt_index"] = c.prompt_index;
    line["sample_index"] = c.sample_index;
    line["text"] = c.text;
    line["token_ids"] = c.token_ids;
    line["logprobs"] = c.logprobs;
    line["finish_reason"] = model::FinishReasonName(c.finish_reason);
    // Invalid UTF-8 cannot occur (the decoder replaces it), but never let dump() throw.
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  spdlog::info("generated {} tokens in {:.2f} s ({:.1f} tokens/s)",
               generator.last_generated_tokens(), seconds,
               generator.last_generated_tokens() / std::max(seconds, 1e-9));
  return 0;
}

}  // namespace

void RegisterGenerate(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<GenerateFlags>();
  auto* cmd =
      root.add_subcommand("generate", "Sample completions from a model; JSON lines on stdout");
  flags->config.AddTo(cmd);
  cmd->add_option("--model", flags->model, "Folder with config.json, *.safetensors, tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompt", flags->prompts, "Prompt text (repeatable)")->required();
  AddConfigOverride(cmd, &flags->extra, "--num-samples", "generation.num_samples",
                    "Samples per prompt");
  AddConfigOverride(cmd, &flags->extra, "--max-new-tokens", "generation.max_new_tokens",
                    "Most tokens per completion");
  AddConfigOverride(cmd, &flags->extra, "--temperature", "generation.temperature",
                    "Sampling temperature");
  AddConfigOverride(cmd, &flags->extra, "--top-p", "generation.top_p", "Nucleus sampling mass");
  AddConfigOverride(cmd, &flags->extra, "--top-k", "generation.top_k",
                    "Keep the k most likely tokens");
  AddConfigOverride(cmd, &flags->extra, "--seed", "generation.seed", "Sampler seed");
  AddConfigOverride(cmd, &flags->extra, "--format", "prompt.format",
                    "Prompt template: raw, r1-zero, qwen-chat");
  AddConfigOverride(cmd, &flags->extra, "--dtype", "model.dtype", "float32, bfloat16, float16");
  AddConfigOverride(cmd, &flags->extra, "--device", "model.device", "cpu, cuda, cuda:N");
  cmd->add_flag_callback(
      "--greedy", [flags] { flags->extra.push_back("generation.greedy=true"); },
      "Arg-max decoding");
  cmd->callback([=] { result->exit_code = RunGenerate(*flags); });
}

}  // namespace r1rl::cli
