// Rejection sampling (DeepSeek-R1 §2.3.3): N responses per prompt from a policy, graded
// by the reward grader's rules and judged by the RejectionFilter; at most M kept per prompt,
// duplicates dropped. What it keeps becomes SFT data: rows {"prompt", "response"} with their
// provenance (model, sample, reward breakdown).
//
//   RejectionSampler sampler(policy.get(), tok.get(), &grader, options);
//   ASSIGN_OR_RETURN(RejectionReport r, sampler.Run(rows, progress));
//   WriteRejectionOutputs(r, "out/data.jsonl", "out/acceptance.json");
//
// Draws depend on (seed, prompt index, sample index), as in the evaluator: the same options
// give the same rows.
#ifndef R1RL_LIB_PIPELINE_REJECTION_SAMPLER_H_
#define R1RL_LIB_PIPELINE_REJECTION_SAMPLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/controller/lease_manager.h"
#include "lib/model/generator.h"
#include "lib/pipeline/rejection_filter.h"
#include "lib/tokenizer/prompt_template.h"

namespace r1rl::model {
class Policy;
}
namespace r1rl::tokenizer {
class Tokenizer;
}
namespace r1rl::reward {
class Grader;
}

namespace r1rl::pipeline {

struct RejectionOptions {
  int samples = 16;  // N, responses drawn per prompt
  int keep = 4;      // M, kept per prompt at most
  model::GenerationOptions generation;
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
  std::string system_prompt;
  std::string language = "en";  // the CoT's target language when the row names none
  int prompts_per_batch = 8;
  RejectionFilterOptions filter;
  std::string model_version;  // provenance: the model folder and its weights' hash
};

struct PromptAcceptance {
  std::string id;
  int samples = 0;
  int accepted = 0;    // passed every rule
  int duplicates = 0;  // accepted but the same as one kept before
  int kept = 0;        // written (<= keep)
};

struct RejectionReport {
  std::vector<std::string> rows;  // JSON lines, the SFT data
  std::vector<PromptAcceptance> prompts;
  std::map<std::string, int64_t> reasons;  // rule -> responses failing it
  int64_t samples = 0, accepted = 0, duplicates = 0, kept = 0;
  int64_t prompts_with_rows = 0;
  int64_t tokens = 0;
  double seconds = 0;
  double acceptance_rate() const {
    return samples > 0 ? static_cast<double>(accepted) / samples : 0.0;
  }
};

struct RejectionProgress {
  int64_t done = 0, total = 0, kept = 0;
  double seconds = 0;
};

class RejectionSampler {
 public:
  // Pointers must outlive the sampler.
  RejectionSampler(model::Policy* policy, const tokenizer::Tokenizer* tokenizer,
                   const reward::Grader* grader, RejectionOptions options);
  absl::StatusOr<RejectionReport> Run(
      const std::vector<learner::PromptRow>& prompts,
      const std::function<void(const RejectionProgress&)>& progress = {});

 private:
  model::Policy* policy_;
  const tokenizer::Tokenizer* tokenizer_;
  const reward::Grader* grader_;
  RejectionOptions options_;
};

// Range checks; InvalidArgument naming the field and the value.
absl::Status ValidateRejectionOptions(const RejectionOptions& options);

// `data_path`: the rows; `acceptance_path`: overall and per-prompt acceptance as JSON.
absl::Status WriteRejectionOutputs(const RejectionReport& report, const std::string& data_path,
                                   const std::string& acceptance_path);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_REJECTION_SAMPLER_H_
