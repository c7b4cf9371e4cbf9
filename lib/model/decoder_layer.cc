#include "lib/model/decoder_layer.h"

namespace r1rl::model {

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config) {
  input_layernorm =
      register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(config));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  mlp = register_module("mlp", MLP(config));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const RopeTables& rope,
                                        const torch::Tensor& mask, const LayerCacheSlot& cache) {
  torch::Tensor h = x + self_attn(input_layernorm(x), rope, mask, cache);
  return h + mlp(post_attention_layernorm(h));
}

}  // namespace r1rl::model
