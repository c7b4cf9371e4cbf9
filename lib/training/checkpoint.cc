#include "lib/training/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/safetensors/atomic_file.h"
#include "lib/status/status_macros.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/optimizer.h"

namespace r1rl::learner {
namespace {

namespace fs = std::filesystem;

// The N of "step-N", or -1.
int64_t StepOfName(const std::string& name) {
  int64_t n = -1;
  if (name.rfind("step-", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &n) || n < 0) return -1;
  return n;
}

}  // namespace

CheckpointStore::CheckpointStore(std::string root, int64_t keep)
    : root_(std::move(root)), keep_(std::max<int64_t>(1, keep)) {}

bool IsCheckpoint(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir + "/state.json", ec);
}

absl::StatusOr<CheckpointState> ReadCheckpointState(const std::string& dir) {
  const std::string path = dir + "/state.json";
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(path, ": ", why, "; delete ", dir, " to start over"));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (j.value("format", "") != kCheckpointFormat) {
    return bad(absl::StrCat("format = ", j.value("format", std::string("(none)")), ", not ",
                            kCheckpointFormat));
  }
  CheckpointState s;
  for (const char* key : {"step", "policy_version", "seed"}) {
    if (!j.contains(key) || !j[key].is_number_integer()) {
      return bad(absl::StrCat("\"", key, "\" is not an integer"));
    }
  }
  s.step = j["step"].get<int64_t>();
  s.policy_version = j["policy_version"].get<int64_t>();
  s.seed = j["seed"].get<uint64_t>();
  if (j.contains("resume")) {
    if (!j["resume"].is_object()) return bad("\"resume\" is not an object");
    for (const auto& [k, v] : j["resume"].items()) {
      if (!v.is_number_integer()) return bad(absl::StrCat("resume.", k, " is not an integer"));
      s.resume[k] = v.get<int64_t>();
    }
  }
  if (s.step < 0) return bad(absl::StrCat("step = ", s.step));
  return s;
}

absl::StatusOr<std::string> CheckpointStore::Save(const std::string& name,
                                                  const CheckpointContents& c,
                                                  const CheckpointState& state) const {
  if (c.policy == nullptr) return absl::InvalidArgumentError("checkpoint: no policy to save");
  const std::string dir = root_ + "/" + name;
  const std::string tmp = root_ + "/.tmp-" + name;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", ec.message()));
  // Whatever fails (a full disk), the half-written folder goes: it would hold the space.
  auto write = [&]() -> absl::Status {
    RETURN_IF_ERROR(c.policy->Save(tmp));
    if (c.optimizer != nullptr) RETURN_IF_ERROR(c.optimizer->Save(tmp + "/optimizer.safetensors"));
    if (c.reference != nullptr) RETURN_IF_ERROR(c.reference->Save(tmp + "/reference"));
    if (!c.tokenizer_path.empty() && fs::exists(c.tokenizer_path)) {
      std::error_code copy_ec;
      fs::copy_file(c.tokenizer_path, tmp + "/tokenizer.json", fs::copy_options::overwrite_existing,
                    copy_ec);
      if (copy_ec) {
        return absl::InternalError(
            absl::StrCat("cannot copy ", c.tokenizer_path, " into ", tmp, ": ", copy_ec.message()));
      }
    }
    nlohmann::ordered_json j;
    j["format"] = kCheckpointFormat;
    j["step"] = state.step;
    j["policy_version"] = state.policy_version;
    j["seed"] = state.seed;
    j["resume"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : state.resume) j["resume"][k] = v;
    j["has_optimizer"] = c.optimizer != nullptr;
    j["has_reference"] = c.reference != nullptr;
    return safetensors::WriteStringAtomically(tmp + "/state.json", j.dump(2) + "\n");
  };
  if (absl::Status s = write(); !s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  fs::remove_all(dir, ec);
  ec.clear();
  fs::rename(tmp, dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", tmp, " to ", dir, ": ", ec.message()));
  }
  // Retention: the newest `keep` step folders; "final" and other names stay.
  std::vector<std::string> steps = StepCheckpoints();
  for (size_t i = 0; i + static_cast<size_t>(keep_) < steps.size(); ++i) {
    fs::remove_all(steps[i], ec);
  }
  return dir;
}

std::vector<std::string> CheckpointStore::StepCheckpoints() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const int64_t n = StepOfName(name);
    if (n >= 0 && IsCheckpoint(it->path().string())) found.emplace_back(n, it->path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [n, path] : found) out.push_back(std::move(path));
  return out;
}

absl::StatusOr<std::string> CheckpointStore::Latest() const {
  std::string best;
  int64_t best_step = -1;
  std::vector<std::string> candidates = StepCheckpoints();
  if (IsCheckpoint(root_ + "/final")) candidates.push_back(root_ + "/final");
  for (const std::string& dir : candidates) {
    ASSIGN_OR_RETURN(CheckpointState s, ReadCheckpointState(dir));
    if (s.step > best_step) {
      best_step = s.step;
      best = dir;
    }
  }
  return best;
}

absl::StatusOr<CheckpointState> LoadCheckpoint(const std::string& dir, model::Policy* policy,
                                               Optimizer* optimizer, model::Policy* reference) {
  ASSIGN_OR_RETURN(CheckpointState state, ReadCheckpointState(dir));
  ASSIGN_OR_RETURN(auto saved, model::Policy::Load(dir, {}));
  if (saved->config().NumParameters() != policy->config().NumParameters() ||
      saved->config().vocab_size != policy->config().vocab_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " holds a checkpoint of another model (", saved->config().NumParameters(),
                     " parameters, not ", policy->config().NumParameters(), ")"));
  }
  CopyWeights(*saved, policy);
  std::error_code ec;
  if (optimizer != nullptr && fs::exists(dir + "/optimizer.safetensors", ec)) {
    RETURN_IF_ERROR(optimizer->Load(dir + "/optimizer.safetensors"));
  }
  if (reference != nullptr && fs::exists(dir + "/reference/config.json", ec)) {
    ASSIGN_OR_RETURN(auto ref, model::Policy::Load(dir + "/reference", {}));
    CopyWeights(*ref, reference);
  }
  return state;
}

}  // namespace r1rl::learner
