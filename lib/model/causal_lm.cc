#include "lib/model/causal_lm.h"

#include <limits>

#include "lib/model/rotary.h"

namespace r1rl::model {

DecoderStackImpl::DecoderStackImpl(const ModelConfig& config) {
  embed_tokens =
      register_module("embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(DecoderLayer(config));
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config) : config_(config) {
  model = register_module("model", DecoderStack(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(
            torch::nn::LinearOptions(config.hidden_size, config.vocab_size).bias(false)));
  }
  // Kept out of the buffers so that a dtype cast of the module leaves it in float32.
  inv_freq_ = RopeInverseFrequencies(config);
}

torch::Tensor CausalLMImpl::ForwardHidden(const torch::Tensor& tokens,
                                          const torch::Tensor& positions, const torch::Tensor& mask,
                                          KVCache* cache) {
  torch::Tensor x = model->embed_tokens(tokens);  // (B, T, hidden)
  RopeTables rope = RopeForPositions(inv_freq_, positions, x.scalar_type());
  const int64_t offset = cache != nullptr ? cache->length : 0;
  for (size_t i = 0; i < model->layers->size(); ++i) {
    LayerCacheSlot slot;
    if (cache != nullptr) slot = {&cache->keys[i], &cache->values[i], offset};
    x = model->layers[i]->as<DecoderLayerImpl>()->forward(x, rope, mask, slot);
  }
  if (cache != nullptr) cache->length += tokens.size(1);
  return model->norm(x);
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& tokens,
                                    const torch::Tensor& attention_mask) {
  torch::Tensor valid = attention_mask.to(torch::kBool);
  torch::Tensor mask = BuildAttentionMask(valid, 0, tokens.size(1));
  return ForwardHidden(tokens, PositionsFromMask(attention_mask), mask, nullptr);
}

torch::Tensor CausalLMImpl::Logits(const torch::Tensor& hidden) {
  const torch::Tensor w = OutputEmbedding();  // (V, hidden)
  if (hidden.dim() == 2 && hidden.size(0) <= kGemvRows) {
    // A BLAS GEMM packs the whole (V x hidden) matrix on every call, which for one decode
    // row costs ~20x the product itself (151,936-token vocabularies); GEMV reads it once.
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < hidden.size(0); ++i) rows.push_back(torch::mv(w, hidden[i]));
    return torch::stack(rows).to(torch::kFloat32);
  }
  return torch::matmul(hidden, w.t()).to(torch::kFloat32);
}

torch::Tensor CausalLMImpl::OutputEmbedding() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

KVCache CausalLMImpl::NewCache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  auto options = model->embed_tokens->weight.options().requires_grad(false);
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    cache.keys.push_back(
        torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim}, options));
    cache.values.push_back(torch::zeros_like(cache.keys.back()));
  }
  cache.key_valid = torch::zeros({batch, capacity}, options.dtype(torch::kBool));
  return cache;
}

torch::Tensor BuildAttentionMask(const torch::Tensor& key_valid, int64_t offset, int64_t t) {
  const int64_t t_keys = key_valid.size(1);
  auto dev = key_valid.device();
  torch::Tensor q_index =
      torch::arange(offset, offset + t, torch::dtype(torch::kInt64).device(dev));
  torch::Tensor k_index = torch::arange(t_keys, torch::dtype(torch::kInt64).device(dev));
  torch::Tensor causal = k_index.unsqueeze(0) <= q_index.unsqueeze(1);   // (T, Tk)
  torch::Tensor allowed = causal.unsqueeze(0) & key_valid.unsqueeze(1);  // (B, T, Tk)
  const double neg = std::numeric_limits<float>::lowest();
  torch::Tensor mask = torch::zeros(allowed.sizes(), torch::dtype(torch::kFloat32).device(dev));
  mask.masked_fill_(allowed.logical_not(), neg);
  return mask.unsqueeze(1).unsqueeze(1);  // (B, 1, 1, T, Tk)
}

torch::Tensor PositionsFromMask(const torch::Tensor& attention_mask) {
  torch::Tensor m = attention_mask.to(torch::kInt64);
  return (m.cumsum(1) - 1).clamp_min(0);
}

}  // namespace r1rl::model
