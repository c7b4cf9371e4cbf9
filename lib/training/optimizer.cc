#include "lib/training/optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "lib/safetensors/safetensors.h"
#include "lib/safetensors/safetensors_writer.h"

namespace r1rl::learner {
namespace {

// LibTorch 1.13 keys optimizer state by the parameter's TensorImpl address printed as a
// string, 2.x by the address itself.
using StateMap = std::decay_t<decltype(std::declval<torch::optim::AdamW&>().state())>;
template <typename Map = StateMap>
typename Map::key_type StateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream out;
    out << p.unsafeGetTensorImpl();
    return out.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

}  // namespace

std::vector<int> ShardOwners(const std::vector<int64_t>& numels, int shards) {
  std::vector<int64_t> load(std::max(1, shards), 0);
  std::vector<int> owners;
  owners.reserve(numels.size());
  for (int64_t n : numels) {
    const int s = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owners.push_back(s);
    load[s] += n;
  }
  return owners;
}

struct Optimizer::State {
  std::vector<std::pair<std::string, torch::Tensor>> named_params;
  std::unique_ptr<torch::optim::AdamW> adamw;
};

Optimizer::~Optimizer() = default;

Optimizer::Optimizer(torch::nn::Module& module, const OptimizerOptions& options)
    : options_(options), state_(std::make_unique<State>()) {
  std::vector<int64_t> numels;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    state_->named_params.emplace_back(item.key(), item.value());
    numels.push_back(item.value().numel());
  }
  owners_ = ShardOwners(numels, options.shard_count);
  std::vector<torch::Tensor> params;
  for (size_t i = 0; i < owners_.size(); ++i) {
    if (owners_[i] == options.shard_rank) params.push_back(state_->named_params[i].second);
  }
  state_->adamw = std::make_unique<torch::optim::AdamW>(
      params, torch::optim::AdamWOptions(options.schedule.At(0))
                  .betas({options.beta1, options.beta2})
                  .eps(options.eps)
                  .weight_decay(options.weight_decay));
}

void Optimizer::ZeroGrad() {
  for (auto& [name, p] : state_->named_params) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

void Optimizer::FillMissingGrads() {
  for (auto& [name, p] : state_->named_params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  }
}

double Optimizer::Step() {
  std::vector<torch::Tensor> params;
  params.reserve(state_->named_params.size());
  for (auto& [name, p] : state_->named_params) {
    if (p.grad().defined()) params.push_back(p);
  }
  double norm = 0.0;
  if (!params.empty()) {
    norm = torch::nn::utils::clip_grad_norm_(params, options_.max_grad_norm > 0
                                                         ? options_.max_grad_norm
                                                         : std::numeric_limits<double>::infinity());
  }
  const double lr = options_.schedule.At(steps_);
  for (auto& group : state_->adamw->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  state_->adamw->step();
  ++steps_;
  return norm;
}

std::vector<int64_t> Optimizer::ParameterShape(size_t i) const {
  return state_->named_params[i].second.sizes().vec();
}

int64_t Optimizer::state_elements() const {
  int64_t n = 0;
  for (const auto& [key, st] : state_->adamw->state()) {
    const auto& a = static_cast<const torch::optim::AdamWParamState&>(*st);
    n += a.exp_avg().numel() + a.exp_avg_sq().numel();
  }
  return n;
}

bool Optimizer::GetMoments(size_t i, at::Tensor* exp_avg, at::Tensor* exp_avg_sq) const {
  auto it = state_->adamw->state().find(StateKey(state_->named_params[i].second));
  if (it == state_->adamw->state().end()) return false;
  const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
  *exp_avg = st.exp_avg();
  *exp_avg_sq = st.exp_avg_sq();
  return true;
}

void Optimizer::SetMoments(size_t i, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq) {
  auto st = std::make_unique<torch::optim::AdamWParamState>();
  st->exp_avg(exp_avg);
  st->exp_avg_sq(exp_avg_sq);
  st->step(steps_);
  state_->adamw->state()[StateKey(state_->named_params[i].second)] = std::move(st);
}

void Optimizer::DropForeignMoments() {
  for (size_t i = 0; i < owners_.size(); ++i) {
    if (owners_[i] != options_.shard_rank)
      state_->adamw->state().erase(StateKey(state_->named_params[i].second));
  }
}

absl::Status Optimizer::Save(const std::string& path) const {
  std::vector<safetensors::TensorView> views;
  std::vector<torch::Tensor> keep;
  int64_t adam_step = 0;
  for (const auto& [name, p] : state_->named_params) {
    auto it = state_->adamw->state().find(StateKey(p));
    if (it == state_->adamw->state().end()) continue;
    auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
    adam_step = st.step();
    for (auto [suffix, t] : {std::pair<const char*, torch::Tensor>{".exp_avg", st.exp_avg()},
                             {".exp_avg_sq", st.exp_avg_sq()}}) {
      torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      keep.push_back(c);
      safetensors::TensorView v;
      v.name = name + suffix;
      v.dtype = safetensors::DType::kF32;
      v.shape = c.sizes().vec();
      v.data = static_cast<const uint8_t*>(c.data_ptr());
      v.nbytes = c.numel() * sizeof(float);
      views.push_back(std::move(v));
    }
  }
  return safetensors::WriteSafetensors(path, views,
                                       {{"format", "r1rl-adamw"},
                                        {"steps", std::to_string(steps_)},
                                        {"adam_step", std::to_string(adam_step)}});
}

absl::Status Optimizer::Load(const std::string& path) {
  auto file = safetensors::SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  const auto& meta = (*file)->metadata();
  auto steps_it = meta.find("steps");
  auto adam_it = meta.find("adam_step");
  if (steps_it == meta.end() || adam_it == meta.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an r1rl optimizer state (metadata lacks steps)"));
  }
  for (size_t i = 0; i < state_->named_params.size(); ++i) {
    const auto& [name, p] = state_->named_params[i];
    if (owners_[i] != options_.shard_rank) continue;  // another shard's (ZeRO-1)
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
      const safetensors::TensorView* v = (*file)->Find(name + suffix);
      if (v == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": missing tensor ", name, suffix));
      }
      if (v->dtype != safetensors::DType::kF32 || v->shape != p.sizes().vec()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor ", name, suffix, " has shape/dtype unlike the parameter ", name));
      }
      torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(v->data), v->shape, torch::kFloat32)
                            .to(p.device(), p.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
      if (std::string(suffix) == ".exp_avg") {
        state->exp_avg(t);
      } else {
        state->exp_avg_sq(t);
      }
    }
    state->step(std::stoll(adam_it->second));
    state_->adamw->state()[StateKey(p)] = std::move(state);
  }
  steps_ = std::stoll(steps_it->second);
  return absl::OkStatus();
}

}  // namespace r1rl::learner
