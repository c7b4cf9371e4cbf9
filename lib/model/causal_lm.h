// CausalLM: a decoder-only Llama/Qwen2 language model in LibTorch, with parameter names
// equal to Hugging Face's (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight,
// ..., model.norm.weight, lm_head.weight), so safetensors checkpoints map one to one.
//
// Two ways in:
//  - training: forward(tokens, attention_mask) returns the final hidden states; pair it
//    with kernels::TokenLogprobs and OutputEmbedding() for per-token log-probs without
//    materialising full logits;
//  - generation: ForwardHidden(...) with a KVCache (prefill, then one token per step).
//
// Thread-safety: as any torch::nn::Module; one user at a time.
#ifndef R1RL_LIB_MODEL_CAUSAL_LM_H_
#define R1RL_LIB_MODEL_CAUSAL_LM_H_

#include <torch/torch.h>

#include "lib/model/decoder_layer.h"
#include "lib/model/kv_cache.h"
#include "lib/model/model_config.h"
#include "lib/model/rms_norm.h"

namespace r1rl::model {

// The "model." prefix of Hugging Face checkpoints: embeddings, blocks, final norm.
class DecoderStackImpl : public torch::nn::Module {
 public:
  explicit DecoderStackImpl(const ModelConfig& config);

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);

  // Training/scoring: tokens (B, T) int64, attention_mask (B, T) (1 = real token, any
  // padding side). Positions count real tokens only. Returns hidden (B, T, hidden).
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& attention_mask);

  // Low-level step: tokens and positions (B, T) int64; `mask` additive (B, 1, 1, T, T_keys)
  // from BuildAttentionMask. With a cache, writes keys/values at cache->length and
  // advances it by T. Returns hidden (B, T, hidden) after the final norm.
  torch::Tensor ForwardHidden(const torch::Tensor& tokens, const torch::Tensor& positions,
                              const torch::Tensor& mask, KVCache* cache);

  // Float32 logits of hidden states: (..., hidden) -> (..., vocab). Up to kGemvRows rows
  // are computed as matrix-vector products (see the .cc for why).
  torch::Tensor Logits(const torch::Tensor& hidden);
  static constexpr int64_t kGemvRows = 4;

  // lm_head.weight, or the input embedding when tie_word_embeddings. (vocab, hidden)
  torch::Tensor OutputEmbedding() const;

  // An empty cache for `batch` sequences of up to `capacity` tokens.
  KVCache NewCache(int64_t batch, int64_t capacity) const;

  const ModelConfig& config() const { return config_; }

  DecoderStack model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tied

 private:
  ModelConfig config_;
  torch::Tensor inv_freq_;  // RoPE inverse frequencies, float32, moved to the input device
};
TORCH_MODULE(CausalLM);

// Additive attention mask (B, 1, 1, T, T_keys), float32: 0 where query i (at key index
// offset + i) may attend key j (j <= offset + i and key_valid[b][j]), a large negative
// number elsewhere. key_valid: (B, T_keys) bool.
torch::Tensor BuildAttentionMask(const torch::Tensor& key_valid, int64_t offset, int64_t t);

// Positions from a 0/1 mask: the number of real tokens before each one (pads get 0).
torch::Tensor PositionsFromMask(const torch::Tensor& attention_mask);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_CAUSAL_LM_H_
