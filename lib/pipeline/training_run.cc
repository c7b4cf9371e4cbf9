#include "lib/pipeline/training_run.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/status/status_macros.h"
#include "lib/training/optimizer.h"

namespace r1rl::pipeline {

bool CheckpointDue(const TrainingRun& run, int64_t done, int64_t total) {
  return !run.checkpoint_dir.empty() && run.checkpoint_every > 0 &&
         done % run.checkpoint_every == 0 && done < total;
}

absl::Status SaveTrainedModel(const TrainingRun& run, const model::Policy& policy,
                              const learner::Optimizer& optimizer) {
  std::error_code ec;
  std::filesystem::create_directories(run.out, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", run.out, ": ", ec.message()));
  RETURN_IF_ERROR(policy.Save(run.out));
  RETURN_IF_ERROR(optimizer.Save(run.out + "/optimizer.safetensors"));
  std::filesystem::copy_file(run.tokenizer_path, run.out + "/tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("copying ", run.tokenizer_path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace r1rl::pipeline
