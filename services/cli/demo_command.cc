// `r1rl demo [--zero] [--pretrain DIR] [--steps N] [--run-dir DIR] [--config F] [--set k=v]`:
// the embedded demo (services/demo/demo.h). Defaults are configs/demo.yaml, built in.
#include <iostream>

#include "services/cli/command.h"
#include "services/cli/demo_defaults.h"
#include "services/demo/demo.h"
#include "services/runtime/blas_probe.h"
#include "services/runtime/threads.h"

namespace r1rl::cli {
namespace {

struct DemoFlags {
  ConfigFlags config;
  bool zero = false;
  std::string pretrain_dir;
  std::vector<std::string> extra;
};

int RunDemoCommand(const DemoFlags& flags) {
  auto cfg = config::Config::FromYaml(kDemoDefaultsYaml, "configs/demo.yaml (built in)");
  if (!cfg.ok()) return Fail("demo", cfg.status());
  // The user's files and overrides on top of the built-in defaults.
  auto user = flags.config.Load(flags.extra);
  if (!user.ok()) return Fail("demo", user.status());
  cfg->Merge(*user);
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(cfg->GetInt("runtime.threads"));
  runtime::LogBlasAtStartup();
  auto options = demo::DemoOptionsFromConfig(*cfg);
  if (!options.ok()) return Fail("demo", options.status());
  options->zero = flags.zero;
  if (!flags.pretrain_dir.empty()) {
    auto s = demo::PretrainBase(*options, flags.pretrain_dir, std::cout);
    if (!s.ok()) return Fail("demo", s);
    std::cout << "base model written to " << flags.pretrain_dir << "\n";
    return 0;
  }
  auto result = demo::RunDemo(*options, cfg->ToYaml(), std::cout);
  if (!result.ok()) return Fail("demo", result.status());
  return 0;
}

}  // namespace

void RegisterDemo(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<DemoFlags>();
  auto* cmd = root.add_subcommand(
      "demo", "Train the built-in model on 3-digit addition: pre-training, cold-start SFT, GRPO");
  flags->config.AddTo(cmd);
  cmd->add_flag("--zero", flags->zero, "R1-Zero: GRPO straight from the base model (no SFT)");
  cmd->add_option("--pretrain", flags->pretrain_dir,
                  "Only pre-train the base model and write it to this folder");
  cmd->add_option_function<std::string>(
      "--steps", [flags](const std::string& v) { flags->extra.push_back("grpo.steps=" + v); },
      "GRPO steps (grpo.steps)");
  cmd->add_option_function<std::string>(
      "--run-dir", [flags](const std::string& v) { flags->extra.push_back("demo.run_dir=" + v); },
      "Run folder (demo.run_dir)");
  cmd->add_option_function<std::string>(
      "--base", [flags](const std::string& v) { flags->extra.push_back("demo.base_checkpoint=" + v); },
      "Load the base model from this folder instead of pre-training (demo.base_checkpoint)");
  cmd->callback([=] { result->exit_code = RunDemoCommand(*flags); });
}

}  // namespace r1rl::cli
