// Grouped-query causal self-attention (Llama/Qwen2): q/k/v projections (with bias for
// Qwen2), RoPE on q and k, n_heads query heads sharing n_kv_heads key/value heads.
#ifndef R1RL_LIB_MODEL_ATTENTION_H_
#define R1RL_LIB_MODEL_ATTENTION_H_

#include <torch/torch.h>

#include "lib/model/model_config.h"
#include "lib/model/rotary.h"

namespace r1rl::model {

// Where a forward pass reads and writes cached keys/values (decoding), or nothing
// (training: the whole sequence attends to itself).
struct LayerCacheSlot {
  torch::Tensor* keys = nullptr;  // (B, n_kv, capacity, head_dim), written in place
  torch::Tensor* values = nullptr;
  int64_t offset = 0;  // index where this call's T tokens are written
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);

  // x: (B, T, hidden). mask: additive float32 (B, 1, 1, T, T_keys) where T_keys = T without
  // a cache, offset + T with one. Returns (B, T, hidden).
  torch::Tensor forward(const torch::Tensor& x, const RopeTables& rope, const torch::Tensor& mask,
                        const LayerCacheSlot& cache);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_ATTENTION_H_
