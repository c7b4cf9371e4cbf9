#include "lib/model/policy.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "lib/model/causal_lm.h"
#include "lib/model/checkpoint.h"
#include "lib/status/status_macros.h"

namespace r1rl::model {

struct Policy::Impl {
  explicit Impl(const ModelConfig& c) : config(c), lm(c) {}
  ModelConfig config;
  CausalLM lm;
};

namespace {

struct Placement {
  torch::ScalarType dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
};

absl::StatusOr<Placement> ParseOptions(const PolicyOptions& options) {
  Placement out;
  if (options.dtype == "float32") {
    out.dtype = torch::kFloat32;
  } else if (options.dtype == "bfloat16") {
    out.dtype = torch::kBFloat16;
  } else if (options.dtype == "float16") {
    out.dtype = torch::kFloat16;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("model.dtype: '", options.dtype, "' is not float32, bfloat16 or float16"));
  }
  try {
    out.device = torch::Device(options.device);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.device: '", options.device, "' is not a device (cpu, cuda, cuda:N)"));
  }
  if (out.device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model.device: '", options.device, "' but this LibTorch has no CUDA device"));
  }
  return out;
}

}  // namespace

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

absl::StatusOr<std::unique_ptr<Policy>> Policy::Load(const std::string& dir,
                                                     const PolicyOptions& options) {
  ASSIGN_OR_RETURN(Placement to, ParseOptions(options));
  ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir + "/config.json"));
  auto impl = std::make_unique<Impl>(config);
  RETURN_IF_ERROR(LoadWeights(dir, impl->lm.get()));
  impl->lm->to(to.device, to.dtype);
  impl->lm->eval();
  return std::unique_ptr<Policy>(new Policy(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<Policy>> Policy::RandomInit(const ModelConfig& config, uint64_t seed,
                                                           const PolicyOptions& options) {
  ASSIGN_OR_RETURN(Placement to, ParseOptions(options));
  torch::manual_seed(seed);
  auto impl = std::make_unique<Impl>(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : impl->lm->named_parameters()) {
      const std::string& name = item.key();
      torch::Tensor& param = item.value();
      if (name.find("norm") != std::string::npos) {
        param.fill_(1.0);
      } else if (name.size() >= 5 && name.substr(name.size() - 5) == ".bias") {
        param.zero_();
      } else {
        param.normal_(0.0, 0.02);
      }
    }
  }
  impl->lm->to(to.device, to.dtype);
  impl->lm->eval();
  return std::unique_ptr<Policy>(new Policy(std::move(impl)));
}

absl::StatusOr<std::string> Policy::SerializeWeights(const std::string& dtype) const {
  return model::SerializeWeights(*impl_->lm, dtype);
}

absl::Status Policy::LoadWeightsFrom(std::string safetensors_bytes, const std::string& source) {
  return LoadWeightsFromBytes(std::move(safetensors_bytes), source, impl_->lm.get());
}

void Policy::NamedParameters(std::vector<std::string>* names,
                             std::vector<at::Tensor>* tensors) const {
  std::map<std::string, torch::Tensor> sorted;
  for (const auto& item : impl_->lm->named_parameters()) sorted[item.key()] = item.value().detach();
  names->clear();
  tensors->clear();
  for (auto& [name, t] : sorted) {
    names->push_back(name);
    tensors->push_back(std::move(t));
  }
}

absl::Status Policy::LoadWeightsFrom(const std::vector<std::string>& names,
                                     const std::vector<at::Tensor>& tensors,
                                     const std::string& source) {
  return LoadWeightsFromTensors(names, tensors, source, impl_->lm.get());
}

absl::Status Policy::Save(const std::string& dir, const std::string& dtype) const {
  RETURN_IF_ERROR(SaveWeights(*impl_->lm, dir, dtype));
  ModelConfig config = impl_->config;
  config.torch_dtype = dtype;
  std::ofstream out(dir + "/config.json");
  out << ModelConfigToJson(config);
  if (!out) return absl::InternalError(absl::StrCat(dir, "/config.json: cannot write"));
  return absl::OkStatus();
}

const ModelConfig& Policy::config() const { return impl_->config; }
CausalLMImpl& Policy::lm() { return *impl_->lm; }
const CausalLMImpl& Policy::lm() const { return *impl_->lm; }

}  // namespace r1rl::model
