#include "lib/model/mlp.h"

namespace r1rl::model {

MLPImpl::MLPImpl(const ModelConfig& config) {
  const int64_t h = config.hidden_size, i = config.intermediate_size;
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  gate_proj = register_module("gate_proj", linear(h, i));
  up_proj = register_module("up_proj", linear(h, i));
  down_proj = register_module("down_proj", linear(i, h));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

}  // namespace r1rl::model
