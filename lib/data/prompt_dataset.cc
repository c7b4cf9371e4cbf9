#include "lib/data/prompt_dataset.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "lib/rewards/reward_spec.h"

namespace r1rl::learner {

absl::StatusOr<PromptDataset> PromptDataset::Parse(const std::string& text,
                                                   const std::string& source) {
  PromptDataset d;
  std::istringstream in(text);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(source, " line ", n, ": ", why));
    };
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded()) return bad("not valid JSON");
    if (!row.is_object()) return bad("not a JSON object");
    if (!row.contains("prompt") || !row["prompt"].is_string())
      return bad("missing field \"prompt\" (a string)");
    if (!row.contains("reward"))
      return bad("missing field \"reward\" (e.g. {\"kind\": \"math\", \"answer\": \"42\"})");
    if (auto spec = reward::ParseRewardSpec(row["reward"]); !spec.ok())
      return bad(std::string(spec.status().message()));
    PromptRow r;
    r.prompt = row["prompt"].get<std::string>();
    r.reward_json = row["reward"].dump();
    if (row.contains("id")) {
      r.prompt_id = row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump();
    } else {
      r.prompt_id = absl::StrCat(source, ":", n);
    }
    d.rows_.push_back(std::move(r));
  }
  if (d.rows_.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no rows"));
  return d;
}

absl::StatusOr<PromptDataset> PromptDataset::Load(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("dataset ", path, ": cannot open"));
  std::stringstream ss;
  ss << f.rdbuf();
  return Parse(ss.str(), path);
}

std::optional<PromptRow> PromptDataset::Next() {
  if (cursor_.index >= static_cast<int64_t>(rows_.size())) {
    ++cursor_.epoch;
    cursor_.index = 0;
  }
  if (epochs_ > 0 && cursor_.epoch >= epochs_) return std::nullopt;
  PromptRow row = rows_[static_cast<size_t>(cursor_.index)];
  row.position = cursor_.epoch * static_cast<int64_t>(rows_.size()) + cursor_.index;
  ++cursor_.index;
  return row;
}

}  // namespace r1rl::learner
