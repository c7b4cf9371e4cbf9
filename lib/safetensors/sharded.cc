#include "lib/safetensors/sharded.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/safetensors/atomic_file.h"
#include "lib/safetensors/safetensors_writer.h"
#include "lib/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1rl::safetensors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Quote(std::string_view s) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return contents.str();
}

// The weight_map of an index file: tensor name -> shard file name.
absl::StatusOr<std::map<std::string, std::string>> ParseWeightMap(const std::string& text,
                                                                  const std::string& source) {
  const json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected an object with a \"weight_map\" object"));
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": weight_map[", Quote(name),
                                                     "] must be a file name, got ", shard.dump()));
    }
    const std::string& file = shard.get_ref<const std::string&>();
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": weight_map[", Quote(name), "] names ", Quote(file),
                       ", which is not a file in the checkpoint directory"));
    }
    weight_map[name] = file;
  }
  return weight_map;
}

// Shards in the order save_pretrained (huggingface_hub's split_state_dict_into_shards)
// produces them.
std::vector<std::vector<TensorView>> SplitIntoShards(const std::vector<TensorView>& tensors,
                                                     uint64_t max_shard_bytes) {
  std::vector<std::vector<TensorView>> shards;
  std::vector<TensorView> current;
  uint64_t current_bytes = 0;
  for (const TensorView& t : tensors) {
    if (t.nbytes > max_shard_bytes) {
      shards.push_back({t});
      continue;
    }
    if (current_bytes + t.nbytes > max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(t);
    current_bytes += t.nbytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));
  return shards;
}

// "model-00001-of-00002.safetensors" and the like.
bool IsShardFileName(std::string_view name) {
  constexpr std::string_view kPattern = "model-#####-of-#####.safetensors";
  if (name.size() != kPattern.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool digit = name[i] >= '0' && name[i] <= '9';
    if (kPattern[i] == '#' ? !digit : name[i] != kPattern[i]) return false;
  }
  return true;
}

// Removes files of an earlier save in `dir` that are not in `keep`.
absl::Status RemoveStaleFiles(const std::string& dir, const std::set<std::string>& keep) {
  std::error_code ec;
  std::vector<std::string> stale;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == kSingleFileName || name == kIndexFileName || IsShardFileName(name);
    if (ours && keep.count(name) == 0) stale.push_back(entry.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  for (const std::string& path : stale) {
    if (!fs::remove(path, ec) && ec) {
      return absl::InternalError(absl::StrCat(path, ": cannot remove stale file: ", ec.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardedSafetensors>> ShardedSafetensors::OpenDir(
    const std::string& dir) {
  std::unique_ptr<ShardedSafetensors> result(new ShardedSafetensors());
  result->dir_ = dir;
  const std::string index_path = JoinPath(dir, kIndexFileName);
  const std::string single_path = JoinPath(dir, kSingleFileName);
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    RETURN_IF_ERROR(result->OpenIndexed(index_path));
  } else if (fs::exists(single_path, ec)) {
    RETURN_IF_ERROR(result->OpenSingle(single_path));
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": neither ", kIndexFileName, " nor ", kSingleFileName, " exists"));
  }
  return result;
}

absl::Status ShardedSafetensors::OpenSingle(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  for (const TensorView& t : file->tensors()) by_name_.emplace(t.name, &t);
  shards_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::Status ShardedSafetensors::OpenIndexed(const std::string& index_path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(index_path));
  ASSIGN_OR_RETURN(const auto weight_map, ParseWeightMap(text, index_path));
  std::set<std::string> shard_names;
  std::map<std::string, std::string> shard_of;  // tensor name -> shard that stores it
  for (const auto& [name, shard] : weight_map) shard_names.insert(shard);
  for (const std::string& shard : shard_names) {
    const std::string path = JoinPath(dir_, shard);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return absl::NotFoundError(absl::StrCat(index_path, ": shard ", Quote(shard),
                                              " named by weight_map is missing (", path, ")"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
    for (const TensorView& t : file->tensors()) {
      auto [it, inserted] = shard_of.emplace(t.name, shard);
      if (!inserted) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": tensor ", Quote(t.name),
                         " is stored in two shards: ", Quote(it->second), " and ", Quote(shard)));
      }
      by_name_.emplace(t.name, &t);
      auto listed = weight_map.find(t.name);
      if (listed == weight_map.end() || listed->second != shard) {
        return absl::InvalidArgumentError(absl::StrCat(
            index_path, ": tensor ", Quote(t.name), " is stored in shard ", Quote(shard),
            " but weight_map ",
            listed == weight_map.end() ? std::string("does not list it")
                                       : absl::StrCat("maps it to ", Quote(listed->second))));
      }
    }
    shards_.push_back(std::move(file));
  }
  for (const auto& [name, shard] : weight_map) {
    if (by_name_.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map maps tensor ",
                                                     Quote(name), " to shard ", Quote(shard),
                                                     ", which does not contain it"));
    }
  }
  return absl::OkStatus();
}

const TensorView* ShardedSafetensors::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

absl::StatusOr<const TensorView*> ShardedSafetensors::Get(std::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) {
    return absl::NotFoundError(absl::StrCat(dir_, ": no tensor ", Quote(name)));
  }
  return view;
}

std::vector<std::string> ShardedSafetensors::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, view] : by_name_) out.push_back(name);
  return out;
}

absl::Status WriteShardedSafetensors(const std::string& dir, const std::vector<TensorView>& tensors,
                                     int64_t max_shard_bytes) {
  if (max_shard_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": max_shard_bytes must be positive, got ", max_shard_bytes));
  }
  // Validate every tensor, and names across shards, before touching the directory.
  absl::Status valid = ValidateTensorsForWrite(tensors);
  if (!valid.ok()) return absl::Status(valid.code(), absl::StrCat(dir, ": ", valid.message()));
  const std::vector<std::vector<TensorView>> shards =
      SplitIntoShards(tensors, static_cast<uint64_t>(max_shard_bytes));
  if (shards.size() == 1) {
    RETURN_IF_ERROR(WriteSafetensors(JoinPath(dir, kSingleFileName), shards[0]));
    return RemoveStaleFiles(dir, {kSingleFileName});
  }
  json weight_map = json::object();
  uint64_t total_size = 0;
  std::set<std::string> written;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name =
        absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
    RETURN_IF_ERROR(WriteSafetensors(JoinPath(dir, name), shards[i]));
    for (const TensorView& t : shards[i]) {
      weight_map[t.name] = name;
      total_size += t.nbytes;
    }
    written.insert(name);
  }
  json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  RETURN_IF_ERROR(WriteStringAtomically(JoinPath(dir, kIndexFileName),
                                        index.dump(2, ' ', /*ensure_ascii=*/true) + "\n"));
  written.insert(kIndexFileName);
  return RemoveStaleFiles(dir, written);
}

}  // namespace r1rl::safetensors
