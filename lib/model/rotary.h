// Rotary position embeddings (RoPE) in the Hugging Face layout: the head dimension is
// split in two halves that rotate together (rotate_half), not interleaved pairs.
//   inv_freq_i = theta^(-2i / head_dim),  i = 0 .. head_dim/2 - 1
// with rope_scaling "llama3" rescaling low frequencies as Llama 3.1 does.
#ifndef R1RL_LIB_MODEL_ROTARY_H_
#define R1RL_LIB_MODEL_ROTARY_H_

#include <torch/torch.h>

#include "lib/model/model_config.h"

namespace r1rl::model {

// The (head_dim / 2) inverse frequencies, float32, scaling applied.
torch::Tensor RopeInverseFrequencies(const ModelConfig& config);

struct RopeTables {
  torch::Tensor cos;  // (B, T, head_dim), dtype of the activations
  torch::Tensor sin;  // (B, T, head_dim)
};

// cos/sin for integer positions (B, T), computed in float32 and cast to `dtype`.
RopeTables RopeForPositions(const torch::Tensor& inv_freq, const torch::Tensor& positions,
                            torch::ScalarType dtype);

// x: (B, heads, T, head_dim) -> the same, rotated.
torch::Tensor ApplyRope(const torch::Tensor& x, const RopeTables& rope);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_ROTARY_H_
