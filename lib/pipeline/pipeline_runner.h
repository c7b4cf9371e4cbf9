// Runs a PipelineSpec (pipeline_spec.h): each stage in its folder <run_dir>/<name>/ with
//   manifest.json   written last, when the stage has finished: kind, inputs (paths and
//                   SHA-256), config (files, overrides, the effective YAML's hash), outputs
//                   (file -> SHA-256), metrics, seconds
//   config.yaml     the stage's effective configuration
//   started.json    the stage's fingerprint (its inputs' hashes, its spec and config)
//   model/          sft, rl: the trained model;   checkpoint/: the last in-stage checkpoint
//   data.jsonl      rejection_sample, merge       (+ acceptance.json for rejection_sample)
//   eval.json, problems.jsonl                     eval;  eval/: eval_each after a model stage
//   metrics.jsonl   sft, rl: one line per step
//
// A stopped pipeline run again skips every stage whose finished manifest has the current
// fingerprint, starts over a stage whose inputs changed since it started, and resumes an
// unfinished sft or rl stage from its checkpoint. With eval_each, the base model is evaluated
// first (<run_dir>/base/) and every stage that makes a model after it; every eval prints its
// table; at the end, one line per stage.
#ifndef R1RL_LIB_PIPELINE_PIPELINE_RUNNER_H_
#define R1RL_LIB_PIPELINE_PIPELINE_RUNNER_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/pipeline/pipeline_spec.h"

namespace r1rl::pipeline {

struct StageOutcome {
  std::string name, kind;
  bool skipped = false;  // finished in an earlier run
  double seconds = 0;
  double pass_at_1 = -1, cons_at_k = -1;  // eval / eval_each; -1 when none
  int k = 0;
  std::string summary;  // one line: what the stage produced
};

// Every input file exists and every stage's configuration loads (NotFound or
// InvalidArgument naming the stage and the key): what runs before any stage does.
absl::Status CheckPipeline(const PipelineSpec& spec);

// Runs the stages in order (CheckPipeline first); stops at the first failure, naming the stage.
absl::StatusOr<std::vector<StageOutcome>> RunPipeline(const PipelineSpec& spec, std::ostream& out);

// The closing table: stage, kind, pass@1, cons@k, seconds, what it produced.
std::string OutcomeTable(const std::vector<StageOutcome>& outcomes);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_PIPELINE_RUNNER_H_
