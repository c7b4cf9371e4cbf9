#include "lib/model/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/model/causal_lm.h"
#include "lib/safetensors/safetensors.h"
#include "lib/safetensors/safetensors_writer.h"
#include "lib/safetensors/sharded.h"
#include "lib/status/status_macros.h"

namespace r1rl::model {
namespace {

namespace st = r1rl::safetensors;

absl::StatusOr<torch::ScalarType> TorchType(st::DType dtype, const std::string& where) {
  switch (dtype) {
    case st::DType::kF32:
      return torch::kFloat32;
    case st::DType::kF16:
      return torch::kFloat16;
    case st::DType::kBF16:
      return torch::kBFloat16;
    default:
      return absl::InvalidArgumentError(absl::StrCat(where, ": dtype ",
                                                     std::string(st::DTypeName(dtype)),
                                                     " is not a weight dtype (F32, F16 or BF16)"));
  }
}

absl::StatusOr<std::pair<torch::ScalarType, st::DType>> ParseDtypeName(const std::string& name) {
  if (name == "float32") return std::make_pair(torch::kFloat32, st::DType::kF32);
  if (name == "float16") return std::make_pair(torch::kFloat16, st::DType::kF16);
  if (name == "bfloat16") return std::make_pair(torch::kBFloat16, st::DType::kBF16);
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", name, "' is not one of float32, float16, bfloat16"));
}

// Buffers that older checkpoints carry and the model recomputes.
bool IsIgnorable(const std::string& name) {
  return name.find("rotary_emb.inv_freq") != std::string::npos;
}

// Copies every parameter from `find(name, where)` (the tensor on offer under that name, as
// a tensor, or nullptr when there is none) and checks that `names`, the tensors on offer,
// hold nothing the model lacks. `source` names them in errors.
template <typename Find>
absl::Status CopyParameters(const Find& find, const std::vector<std::string>& names,
                            const std::string& source, CausalLMImpl* model) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    const std::string where = absl::StrCat(source, ": tensor \"", name, "\"");
    ASSIGN_OR_RETURN(std::optional<torch::Tensor> offered, find(name, where));
    if (!offered) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (offered->sizes() != param.sizes()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": shape [", absl::StrJoin(offered->sizes().vec(), ", "),
                       "] disagrees with config.json, which gives [",
                       absl::StrJoin(param.sizes().vec(), ", "), "]"));
    }
    param.copy_(*offered);  // converts dtype and device
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing tensors: ", absl::StrJoin(missing, ", ")));
  }
  const bool tied = model->config().tie_word_embeddings;
  for (const std::string& name : names) {
    if (used.count(name) || IsIgnorable(name) || (tied && name == "lm_head.weight")) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tensor \"", name, "\" is not a parameter of this ",
                     model->config().model_type, " model (check config.json)"));
  }
  return absl::OkStatus();
}

// The tensors of safetensors `files` (a directory's shards or one file), as `find` above.
template <typename Files>
auto FindIn(const Files& files) {
  return [&files](const std::string& name,
                  const std::string& where) -> absl::StatusOr<std::optional<torch::Tensor>> {
    const st::TensorView* view = files.Find(name);
    if (view == nullptr) return std::nullopt;
    ASSIGN_OR_RETURN(torch::ScalarType type, TorchType(view->dtype, where));
    // from_blob does not copy: the bytes stay in the mapped file until copy_ converts them.
    return torch::from_blob(const_cast<uint8_t*>(view->data), view->shape,
                            torch::TensorOptions().dtype(type));
  };
}

// Views of every parameter as `dtype`; `keep_alive` holds the converted tensors.
absl::StatusOr<std::vector<st::TensorView>> ParameterViews(const CausalLMImpl& model,
                                                           const std::string& dtype,
                                                           std::vector<torch::Tensor>* keep_alive) {
  ASSIGN_OR_RETURN(auto types, ParseDtypeName(dtype));
  torch::NoGradGuard no_grad;
  std::vector<st::TensorView> views;
  for (const auto& item : model.named_parameters()) {
    torch::Tensor t = item.value().detach().to(torch::kCPU, types.first).contiguous();
    keep_alive->push_back(t);
    st::TensorView view;
    view.name = item.key();
    view.dtype = types.second;
    view.shape = t.sizes().vec();
    view.data = static_cast<const uint8_t*>(t.data_ptr());
    view.nbytes = t.numel() * t.element_size();
    views.push_back(std::move(view));
  }
  return views;
}

}  // namespace

absl::Status LoadWeights(const std::string& dir, CausalLMImpl* model) {
  ASSIGN_OR_RETURN(auto files, st::ShardedSafetensors::OpenDir(dir));
  return CopyParameters(FindIn(*files), files->names(), dir, model);
}

absl::Status LoadWeightsFromBytes(std::string bytes, const std::string& source,
                                  CausalLMImpl* model) {
  ASSIGN_OR_RETURN(auto file, st::SafetensorsFile::FromBuffer(std::move(bytes), source));
  std::vector<std::string> names;
  for (const st::TensorView& t : file->tensors()) names.push_back(t.name);
  return CopyParameters(FindIn(*file), names, source, model);
}

absl::Status LoadWeightsFromTensors(const std::vector<std::string>& names,
                                    const std::vector<torch::Tensor>& tensors,
                                    const std::string& source, CausalLMImpl* model) {
  if (names.size() != tensors.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", names.size(), " names for ", tensors.size(), " tensors"));
  }
  std::map<std::string, const torch::Tensor*> by_name;
  for (size_t i = 0; i < names.size(); ++i) by_name[names[i]] = &tensors[i];
  auto find = [&](const std::string& name,
                  const std::string& where) -> absl::StatusOr<std::optional<torch::Tensor>> {
    auto it = by_name.find(name);
    if (it == by_name.end()) return std::nullopt;
    if (!it->second->is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": dtype ", c10::toString(it->second->scalar_type()), " is not a weight dtype"));
    }
    return *it->second;
  };
  return CopyParameters(find, names, source, model);
}

absl::StatusOr<std::string> SerializeWeights(const CausalLMImpl& model, const std::string& dtype) {
  std::vector<torch::Tensor> keep_alive;
  ASSIGN_OR_RETURN(auto views, ParameterViews(model, dtype, &keep_alive));
  return st::SerializeSafetensors(views, {{"format", "pt"}});
}

absl::Status SaveWeights(const CausalLMImpl& model, const std::string& dir,
                         const std::string& dtype, int64_t max_shard_bytes) {
  RETURN_IF_ERROR(ParseDtypeName(dtype).status());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create folder: ", ec.message()));
  std::vector<torch::Tensor> keep_alive;
  ASSIGN_OR_RETURN(auto views, ParameterViews(model, dtype, &keep_alive));
  return st::WriteShardedSafetensors(dir, views, max_shard_bytes);
}

}  // namespace r1rl::model
