// Per-token log-probabilities and entropies of target tokens, straight from the last
// hidden states and the output-embedding matrix, without materialising the float32
// (tokens x vocabulary) log-softmax for all tokens at once.
//
// For token n with hidden state h_n, output embedding W (V x d) and temperature tau:
//   z_n      = W h_n / tau                      (logits, float32)
//   lse_n    = log sum_v exp(z_nv)
//   logp_n   = z_n[target_n] - lse_n            (the log-prob the GRPO ratio uses)
//   H_n      = lse_n - sum_v softmax(z_n)_v z_nv (entropy in nats)
// The tokens are processed in chunks of `chunk_tokens`, so peak memory is
// O(chunk_tokens * V) instead of O(N * V). Backward recomputes each chunk's logits
// (Liger-style fused linear + cross-entropy), with
//   d logp_n / d z_n = onehot(target_n) - p_n
//   d H_n    / d z_n = -p_n * (log p_n + H_n)
// so gradients flow to both `hidden` and `weight`.
//
// Thread-safety: stateless; safe to call concurrently on distinct tensors.
#ifndef R1RL_KERNELS_TOKEN_LOGPROBS_H_
#define R1RL_KERNELS_TOKEN_LOGPROBS_H_

#include <torch/types.h>

namespace r1rl::kernels {

struct TokenLogprobsOptions {
  // Tokens whose logits exist at the same time. 1024 x 151,936 x 4 B = 622 MB.
  int64_t chunk_tokens = 1024;
  // Softmax temperature the logits are divided by (the sampler's temperature).
  double temperature = 1.0;
  // Also return the per-token entropy (one more pass over each chunk's logits).
  bool with_entropy = true;
};

struct TokenLogprobsResult {
  torch::Tensor logprobs;  // float32, shape of `targets`
  torch::Tensor entropy;   // float32, shape of `targets`; undefined when !with_entropy
};

// hidden: (..., d) any floating dtype; weight: (V, d); targets: int64 (...), same leading
// shape as hidden, values in [0, V). Differentiable w.r.t. hidden and weight.
TokenLogprobsResult TokenLogprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                  const torch::Tensor& targets,
                                  const TokenLogprobsOptions& options = {});

// The reference it is checked against: full logits, log_softmax and gather in float32.
TokenLogprobsResult TokenLogprobsReference(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& targets,
                                           const TokenLogprobsOptions& options = {});

}  // namespace r1rl::kernels

#endif  // R1RL_KERNELS_TOKEN_LOGPROBS_H_
