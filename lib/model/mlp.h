// SwiGLU feed-forward (Llama/Qwen2): down(silu(gate(x)) * up(x)).
#ifndef R1RL_LIB_MODEL_MLP_H_
#define R1RL_LIB_MODEL_MLP_H_

#include <torch/torch.h>

#include "lib/model/model_config.h"

namespace r1rl::model {

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, hidden) -> (B, T, hidden)

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_MLP_H_
