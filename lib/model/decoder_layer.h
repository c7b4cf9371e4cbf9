// One pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(.)).
#ifndef R1RL_LIB_MODEL_DECODER_LAYER_H_
#define R1RL_LIB_MODEL_DECODER_LAYER_H_

#include <torch/torch.h>

#include "lib/model/attention.h"
#include "lib/model/mlp.h"
#include "lib/model/model_config.h"
#include "lib/model/rms_norm.h"

namespace r1rl::model {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  // x: (B, T, hidden) -> (B, T, hidden). See AttentionImpl::forward for mask and cache.
  torch::Tensor forward(const torch::Tensor& x, const RopeTables& rope, const torch::Tensor& mask,
                        const LayerCacheSlot& cache);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_DECODER_LAYER_H_
