#include "services/pipeline/stage_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/learner/grpo_trainer.h"
#include "services/learner/optimizer.h"
#include "services/model/policy.h"
#include "services/status/status_macros.h"

namespace r1rl::pipeline {

namespace fs = std::filesystem;

absl::Status SaveStageCheckpoint(const std::string& dir, const model::Policy& policy,
                                 const learner::Optimizer& optimizer, int64_t step, const model::Policy* reference) {
  const std::string tmp = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", ec.message()));
  RETURN_IF_ERROR(policy.Save(tmp));
  RETURN_IF_ERROR(optimizer.Save(tmp + "/optimizer.safetensors"));
  if (reference != nullptr) RETURN_IF_ERROR(reference->Save(tmp + "/reference"));
  {
    std::ofstream state(tmp + "/state.json");
    state << nlohmann::json{{"step", step}}.dump() << "\n";
    if (!state) return absl::InternalError(absl::StrCat("cannot write ", tmp, "/state.json"));
  }
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LoadStageCheckpoint(const std::string& dir, model::Policy* policy,
                                            learner::Optimizer* optimizer, model::Policy* reference) {
  std::ifstream state(dir + "/state.json");
  if (!state) return 0;
  auto j = nlohmann::json::parse(state, nullptr, false);
  if (j.is_discarded() || !j.contains("step") || !j["step"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat(dir, "/state.json: not {\"step\": N}; delete ", dir, " to restart the stage"));
  }
  ASSIGN_OR_RETURN(auto saved, model::Policy::Load(dir, {}));
  if (saved->config().NumParameters() != policy->config().NumParameters()) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " holds a checkpoint of another model (",
                                                      saved->config().NumParameters(), " parameters, not ",
                                                      policy->config().NumParameters(), ")"));
  }
  learner::CopyWeights(*saved, policy);
  RETURN_IF_ERROR(optimizer->Load(dir + "/optimizer.safetensors"));
  if (reference != nullptr && fs::exists(dir + "/reference/config.json")) {
    ASSIGN_OR_RETURN(auto ref, model::Policy::Load(dir + "/reference", {}));
    learner::CopyWeights(*ref, reference);
  }
  return j["step"].get<int64_t>();
}

}  // namespace r1rl::pipeline
