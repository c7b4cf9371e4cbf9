// A pipeline file (`r1rl pipeline --config pipeline.yaml`): DeepSeek-R1's recipe as a list of
// stages, each reading the model of the stage before it (or one it names) and writing its
// own folder.
//
//   pipeline:
//     name: r1
//     run_dir: runs/${name}
//     base_model: assets/demo-base
//     vars: {data_dir: runs/data}          # ${data_dir} anywhere below; --var overrides
//     config: [configs/demo.yaml]          # config files and keys every stage starts from
//     set: {prompt.format: raw}
//     eval_each: {data: ${data_dir}/heldout.jsonl, k: 8}   # after every model stage
//     stages:
//       - {name: cold_start, kind: sft, data: ${data_dir}/cold_start.jsonl}
//       - {name: reasoning_rl, kind: rl, prompts: ${data_dir}/prompts.jsonl, set: {grpo.steps: 40}}
//       - {name: rejection, kind: rejection_sample, prompts: ..., samples: 16, keep: 4}
//       - {name: sft_data, kind: merge, inputs: [{data: "@rejection"}, {data: ..., weight: 0.5}]}
//       - {name: sft_again, kind: sft, model: "@base", data: "@sft_data"}
//       - {name: final_rl, kind: rl, prompts: ...}
//       - {name: eval, kind: eval, data: ..., k: 16}
//
// Kinds: sft (model + data -> model), rl (model + prompts -> model), rejection_sample
// (model + prompts -> data), merge (data sets with weights -> data), eval (model + data ->
// metrics). "@name" names another stage's output ("@base": the base model); a stage without
// `model` takes the latest model stage listed before it. Stages run in list order unless a
// reference makes a later stage an input, in which case inputs go first.
//
// Parse errors (InvalidArgument) name the stage and the field: an unknown kind or field, a
// duplicate name, a reference to no stage or to a stage of the wrong kind, a cycle (named
// stage by stage), a missing required field, an input file that does not exist.
#ifndef R1RL_LIB_PIPELINE_PIPELINE_SPEC_H_
#define R1RL_LIB_PIPELINE_PIPELINE_SPEC_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::pipeline {

enum class StageKind { kSft, kRl, kRejectionSample, kMerge, kEval };
const char* StageKindName(StageKind kind);  // "sft", "rl", "rejection_sample", "merge", "eval"
bool MakesModel(StageKind kind);            // sft, rl
bool MakesData(StageKind kind);             // rejection_sample, merge

// A stage's input: another stage's output ("@name") or a path.
struct Ref {
  std::string stage;  // "" when `path` is a file or folder; "base" for "@base"
  std::string path;
  bool empty() const { return stage.empty() && path.empty(); }
  std::string ToString() const { return stage.empty() ? path : "@" + stage; }
};

struct MergeInput {
  Ref data;
  double weight = 1.0;  // copies of each row: the whole part, plus a seeded draw for the fraction
};

struct StageSpec {
  std::string name;
  StageKind kind = StageKind::kSft;
  Ref model;                       // resolved: never empty after parsing
  Ref data;                        // sft: rows; rl, rejection_sample: prompts; eval: problems
  std::vector<MergeInput> inputs;  // merge
  std::vector<std::string> config_files;  // on top of the pipeline's
  std::vector<std::string> set;           // "key=value", on top of the pipeline's
  int64_t checkpoint_every = 10;          // sft, rl: steps
  int64_t checkpoint_keep = 3;            // sft, rl: step-<N> checkpoints kept
  int samples = 16, keep = 4;             // rejection_sample: N drawn, M kept per prompt
  int k = 16;                             // eval: samples per problem
  int64_t limit = 0;                      // eval, rejection_sample: first N rows (0: all)
};

struct EvalEach {
  std::string data;  // "" = off
  int k = 8;
  int64_t limit = 0;
};

struct PipelineSpec {
  std::string name;
  std::string run_dir;
  std::string base_model;
  std::vector<std::string> config_files;
  std::vector<std::string> set;
  std::vector<std::string> overrides;  // the command line's --set: after every stage's own
  std::map<std::string, std::string> vars;
  EvalEach eval_each;
  std::vector<StageSpec> stages;  // in run order
};

// `vars` override the file's vars (--var name=value). `source` names the text in errors.
absl::StatusOr<PipelineSpec> ParsePipeline(const std::string& yaml_text, const std::string& source,
                                           const std::map<std::string, std::string>& vars = {});
absl::StatusOr<PipelineSpec> LoadPipeline(const std::string& path,
                                          const std::map<std::string, std::string>& vars = {});

// Every file a stage reads directly (not a stage's output) exists: NotFound naming the
// stage, the field and the path.
absl::Status CheckInputsExist(const PipelineSpec& spec);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_PIPELINE_SPEC_H_
