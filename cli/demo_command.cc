// `r1rl demo [--zero | --pipeline] [--from-scratch] [--pretrain DIR] [--steps N] [--run-dir DIR]
// [--config F] [--set k=v]`: the embedded demo (cli/demo/demo.h). Defaults are configs/demo.yaml,
// built in.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/demo/demo.h"
#include "cli/demo/demo_data.h"
#include "cli/demo_defaults.h"
#include "cli/pipeline_run.h"
#include "lib/pipeline/pipeline_spec.h"
#include "lib/runtime/blas_probe.h"
#include "lib/runtime/threads.h"

namespace r1rl::cli {
namespace {

constexpr char kBaseKey[] = "demo.base_checkpoint";

bool HasModel(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::exists(dir / "config.json", ec);
}

// Where the base model comes from. A folder the user named must hold a model (NotFound
// otherwise: never a silent fallback). The built-in default (the shipped assets/demo-base)
// is looked up in the working directory, then in the source tree; when neither has it the
// demo pre-trains its own base model and says so.
absl::StatusOr<std::string> ResolveBase(const config::Config& merged, const config::Config& user) {
  const std::string base = merged.GetString(kBaseKey);
  if (base.empty()) return base;
  if (user.IsSet(kBaseKey)) {
    if (HasModel(base)) return base;
    return absl::NotFoundError(absl::StrCat(kBaseKey, " = ", base,
                                            ": no config.json there (write a base model with "
                                            "`r1rl demo --pretrain ",
                                            base, "`)"));
  }
  if (HasModel(base)) return base;
  const std::filesystem::path in_source = std::filesystem::path(kSourceDir) / base;
  if (std::filesystem::path(base).is_relative() && HasModel(in_source)) return in_source.string();
  std::cout << "no shipped base model at " << base << ": the demo pre-trains its own\n";
  return std::string();
}

struct DemoFlags {
  ConfigFlags config;
  bool zero = false;
  bool pipeline = false;
  std::string write_data;
  std::string pipeline_dir = "runs/demo-pipeline";
  bool from_scratch = false;
  std::string pretrain_dir;
  std::vector<std::string> extra;
};

// `r1rl demo --pipeline`: the demo task's data written to <dir>/data, then the built-in
// configs/pipeline-r1.yaml on the shipped base model, its stages in <dir>.
int RunDemoPipeline(const DemoFlags& flags) {
  std::string base = "assets/demo-base";
  if (!HasModel(base)) base = (std::filesystem::path(kSourceDir) / base).string();
  if (!HasModel(base)) {
    return Fail("demo", absl::NotFoundError(absl::StrCat(
                            "no shipped base model at assets/demo-base or ", base,
                            " (write one with `r1rl demo --pretrain assets/demo-base`)")));
  }
  const std::string data = flags.pipeline_dir + "/data";
  demo::DemoDataOptions d;
  std::cout << "writing the demo task's data to " << data
            << " (prompts, cold-start rows, the held-out split)\n";
  if (auto s = demo::WriteDemoData(data, d); !s.ok()) return Fail("demo", s);
  auto spec =
      pipeline::ParsePipeline(kPipelineR1Yaml, "configs/pipeline-r1.yaml (built in)",
                              {{"base", base}, {"data", data}, {"run_dir", flags.pipeline_dir}});
  if (!spec.ok()) return Fail("demo", spec.status());
  // The user's --config files and --set keys apply to every stage, after the preset's.
  spec->config_files.insert(spec->config_files.end(), flags.config.files.begin(),
                            flags.config.files.end());
  spec->overrides = flags.config.overrides;
  return RunPipelineSpec(*spec, "demo");
}

int RunDemoCommand(const DemoFlags& flags) {
  if (!flags.write_data.empty()) {
    if (auto s = demo::WriteDemoData(flags.write_data, {}); !s.ok()) return Fail("demo", s);
    std::cout << "wrote " << flags.write_data << "/{prompts,cold_start,heldout}.jsonl\n";
    return 0;
  }
  if (flags.pipeline) return RunDemoPipeline(flags);
  auto cfg = config::Config::FromYaml(kDemoDefaultsYaml, "configs/demo.yaml (built in)");
  if (!cfg.ok()) return Fail("demo", cfg.status());
  // The user's files and overrides on top of the built-in defaults.
  std::vector<std::string> overrides = flags.extra;
  if (flags.from_scratch) overrides.push_back(absl::StrCat(kBaseKey, "=\"\""));
  auto user = flags.config.Load(overrides);
  if (!user.ok()) return Fail("demo", user.status());
  cfg->Merge(*user);
  if (flags.pretrain_dir.empty()) {
    auto base = ResolveBase(*cfg, *user);
    if (!base.ok()) return Fail("demo", base.status());
    if (auto s = cfg->Set(absl::StrCat(kBaseKey, "=\"", *base, "\"")); !s.ok())
      return Fail("demo", s);
  }
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
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
  cmd->add_flag("--pipeline", flags->pipeline,
                "R1's whole pipeline (configs/pipeline-r1.yaml): cold start, RL, rejection "
                "sampling + merge, SFT, RL, "
                "an eval table after every stage");
  cmd->add_option("--pipeline-dir", flags->pipeline_dir, "Run folder of --pipeline")
      ->capture_default_str();
  cmd->add_option(
      "--write-data", flags->write_data,
      "Only write the task's data (prompts, cold-start rows, held-out split) to this folder, for "
      "`r1rl pipeline`");
  cmd->add_flag("--from-scratch", flags->from_scratch,
                "Pre-train the base model in this run instead of loading the shipped one "
                "(demo.base_checkpoint = \"\")");
  cmd->add_option("--pretrain", flags->pretrain_dir,
                  "Only pre-train the base model and write it to this folder");
  AddConfigOverride(cmd, &flags->extra, "--steps", "grpo.steps", "GRPO steps (grpo.steps)");
  AddConfigOverride(cmd, &flags->extra, "--run-dir", "demo.run_dir", "Run folder (demo.run_dir)");
  AddConfigOverride(
      cmd, &flags->extra, "--base", "demo.base_checkpoint",
      "Load the base model from this folder instead of pre-training (demo.base_checkpoint)");
  cmd->callback([=] { result->exit_code = RunDemoCommand(*flags); });
}

}  // namespace r1rl::cli
