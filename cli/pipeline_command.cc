// `r1rl pipeline --config pipeline.yaml [--var name=value] [--check]`: runs DeepSeek-R1's
// pipeline as the file declares it (lib/pipeline/pipeline_spec.h), resuming where a
// stopped run left off (lib/pipeline/pipeline_runner.h). Presets:
// configs/pipeline-r1.yaml, configs/pipeline-r1-zero.yaml.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/pipeline_run.h"
#include "lib/pipeline/pipeline_runner.h"
#include "lib/pipeline/pipeline_spec.h"
#include "lib/runtime/blas_probe.h"
#include "lib/runtime/threads.h"

namespace r1rl::cli {
namespace {

struct PipelineFlags {
  std::string file;
  std::vector<std::string> vars;
  std::vector<std::string> overrides;
  bool check = false;
};

absl::StatusOr<std::map<std::string, std::string>> ParseVars(const std::vector<std::string>& vars) {
  std::map<std::string, std::string> out;
  for (const std::string& v : vars) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--var ", v, ": expected name=value"));
    }
    out[v.substr(0, eq)] = v.substr(eq + 1);
  }
  return out;
}

int RunPipelineCommand(const PipelineFlags& f) {
  auto vars = ParseVars(f.vars);
  if (!vars.ok()) return Fail("pipeline", vars.status());
  auto spec = pipeline::LoadPipeline(f.file, *vars);
  if (!spec.ok()) return Fail("pipeline", spec.status());
  spec->overrides = f.overrides;
  if (f.check) {
    if (auto s = pipeline::CheckPipeline(*spec); !s.ok()) return Fail("pipeline", s);
    std::cout << "pipeline " << spec->name << ": " << spec->stages.size()
              << " stages, in this order:\n";
    for (const auto& s : spec->stages) {
      std::cout << "  " << s.name << " (" << pipeline::StageKindName(s.kind) << ")";
      if (!s.model.empty()) std::cout << "  model " << s.model.ToString();
      if (!s.data.empty()) std::cout << "  data " << s.data.ToString();
      for (const auto& in : s.inputs)
        std::cout << "  input " << in.data.ToString() << " x" << in.weight;
      std::cout << "\n";
    }
    return 0;
  }
  return RunPipelineSpec(*spec, "pipeline");
}

}  // namespace

int RunPipelineSpec(const pipeline::PipelineSpec& spec, const std::string& command) {
  // Threads and logging from the pipeline's own keys (stages may not change them).
  if (auto s = pipeline::CheckPipeline(spec); !s.ok()) return Fail(command, s);
  std::vector<std::string> sets = spec.set;
  sets.insert(sets.end(), spec.overrides.begin(), spec.overrides.end());
  auto cfg = config::Config::Load(spec.config_files, sets);
  if (!cfg.ok()) return Fail(command, cfg.status());
  SetUpLogging(cfg->GetString("runtime.log_level"));
  runtime::ConfigureThreads(*cfg);
  runtime::LogBlasAtStartup();
  auto outcomes = pipeline::RunPipeline(spec, std::cout);
  if (!outcomes.ok()) return Fail(command, outcomes.status());
  std::cout << "\n"
            << pipeline::OutcomeTable(*outcomes) << "manifests: " << spec.run_dir
            << "/<stage>/manifest.json\n";
  return 0;
}

void RegisterPipeline(CLI::App& root, CommandResult* result) {
  auto f = std::make_shared<PipelineFlags>();
  auto* cmd = root.add_subcommand("pipeline",
                                  "Run R1's pipeline from a file: sft, rl, rejection_sample, "
                                  "merge, eval stages; resumes a stopped run");
  cmd->add_option("--config", f->file,
                  "Pipeline file (configs/pipeline-r1.yaml, configs/pipeline-r1-zero.yaml)")
      ->required();
  cmd->add_option("--var", f->vars, "name=value: a variable of the file (repeatable)");
  cmd->add_option("--set", f->overrides,
                  "key.path=value: a config key for every stage, over the file's (repeatable)");
  cmd->add_flag("--check", f->check,
                "Check the file and its inputs, print the stage order, run nothing");
  cmd->callback([=] { result->exit_code = RunPipelineCommand(*f); });
}

}  // namespace r1rl::cli
