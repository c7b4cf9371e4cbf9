// Packing token sequences into padded tensors for training, and scoring them: the learner's
// per-token log-probs of each sequence's own next tokens.
//
// Layout: tokens (B, L) = prompt ++ completion, right-padded with `pad_id`; every per-token
// tensor is (B, L - 1), where column j holds the prediction of token j + 1 from tokens 0..j.
// loss_mask is 1 where that token belongs to the completion (the part that is trained).
#ifndef R1RL_LIB_TRAINING_PACKED_BATCH_H_
#define R1RL_LIB_TRAINING_PACKED_BATCH_H_

#include <torch/torch.h>

#include <vector>

#include "kernels/token_logprobs.h"
#include "lib/model/causal_lm.h"

namespace r1rl::learner {

struct SequenceRef {
  const std::vector<int32_t>* prompt = nullptr;      // at least one token
  const std::vector<int32_t>* completion = nullptr;  // trained tokens
  const std::vector<float>* behaviour = nullptr;     // optional, one per completion token
};

struct PackedBatch {
  torch::Tensor tokens;          // (B, L) int64
  torch::Tensor attention_mask;  // (B, L) int64, 1 on real tokens
  torch::Tensor loss_mask;       // (B, L-1) float32
  torch::Tensor behaviour;       // (B, L-1) float32, 0 outside the completion; undefined if none
};

PackedBatch Pack(const std::vector<SequenceRef>& sequences, int32_t pad_id,
                 const torch::Device& device);

// Log-probs (and entropies) of tokens[:, 1:] under `lm` at `temperature`, (B, L-1), where
// loss_mask is 1, and 0 elsewhere: the output projection runs only on the trained positions.
kernels::TokenLogprobsResult ScoreTokens(model::CausalLMImpl& lm, const PackedBatch& batch,
                                         double temperature, bool with_entropy);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_PACKED_BATCH_H_
