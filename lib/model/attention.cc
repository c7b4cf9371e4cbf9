#include "lib/model/attention.h"

#include <cmath>

namespace r1rl::model {

AttentionImpl::AttentionImpl(const ModelConfig& config)
    : n_heads_(config.num_attention_heads),
      n_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim) {
  const int64_t h = config.hidden_size;
  auto linear = [&](int64_t in, int64_t out, bool bias) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  };
  q_proj = register_module("q_proj", linear(h, n_heads_ * head_dim_, config.attention_bias));
  k_proj = register_module("k_proj", linear(h, n_kv_heads_ * head_dim_, config.attention_bias));
  v_proj = register_module("v_proj", linear(h, n_kv_heads_ * head_dim_, config.attention_bias));
  // Llama's attention_bias also gives o_proj a bias; Qwen2 biases q/k/v only.
  const bool o_bias = config.attention_bias && config.model_type == "llama";
  o_proj = register_module("o_proj", linear(n_heads_ * head_dim_, h, o_bias));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const RopeTables& rope,
                                     const torch::Tensor& mask, const LayerCacheSlot& cache) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t group = n_heads_ / n_kv_heads_;
  // (B, T, heads * hd) -> (B, heads, T, hd)
  torch::Tensor q = q_proj(x).view({b, t, n_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor k = k_proj(x).view({b, t, n_kv_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor v = v_proj(x).view({b, t, n_kv_heads_, head_dim_}).transpose(1, 2);
  q = ApplyRope(q, rope);
  k = ApplyRope(k, rope);
  if (cache.keys != nullptr) {
    cache.keys->narrow(2, cache.offset, t).copy_(k);
    cache.values->narrow(2, cache.offset, t).copy_(v);
    k = cache.keys->narrow(2, 0, cache.offset + t);  // (B, n_kv, T_keys, hd)
    v = cache.values->narrow(2, 0, cache.offset + t);
  }
  const int64_t t_keys = k.size(2);
  // The `group` query heads that share a kv head are folded into the query-length axis:
  // (B, n_kv, group * T, hd) against K (B, n_kv, T_keys, hd). Every product is then a plain
  // batched matmul over (B, n_kv) on views of the cache: no copy of K or V per query head.
  torch::Tensor qg = q.reshape({b, n_kv_heads_, group * t, head_dim_});
  // Scores and softmax in float32 whatever the activation dtype (mask is float32).
  torch::Tensor scores = torch::matmul(qg, k.transpose(-1, -2)).to(torch::kFloat32);
  scores.mul_(1.0 / std::sqrt(static_cast<double>(head_dim_)));
  scores.view({b, n_kv_heads_, group, t, t_keys}).add_(mask);  // mask (B, 1, 1, T, T_keys)
  torch::Tensor probs = torch::softmax(scores, -1).to(q.scalar_type());
  torch::Tensor out = torch::matmul(probs, v);  // (B, n_kv, group * T, hd)
  out = out.view({b, n_heads_, t, head_dim_}).transpose(1, 2).reshape({b, t, n_heads_ * head_dim_});
  return o_proj(out);
}

}  // namespace r1rl::model
