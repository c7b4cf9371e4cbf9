#include "lib/model/rotary.h"

#include <cmath>

namespace r1rl::model {

torch::Tensor RopeInverseFrequencies(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  torch::Tensor exponents = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / dim;
  torch::Tensor inv_freq = 1.0 / torch::pow(static_cast<float>(config.rope_theta), exponents);
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters.
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor;
    const double high_wavelen = old_len / s.high_freq_factor;
    torch::Tensor wavelen = 2 * M_PI / inv_freq;
    torch::Tensor scaled = torch::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
    torch::Tensor smooth =
        (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    torch::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv_freq = torch::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

RopeTables RopeForPositions(const torch::Tensor& inv_freq, const torch::Tensor& positions,
                            torch::ScalarType dtype) {
  // (B, T, 1) * (half) -> (B, T, half)
  torch::Tensor freqs =
      positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq.to(positions.device());
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // (B, T, head_dim)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const RopeTables& rope) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half);
  torch::Tensor x2 = x.narrow(-1, half, half);
  torch::Tensor rotated = torch::cat({-x2, x1}, -1);
  torch::Tensor cos = rope.cos.unsqueeze(1);  // (B, 1, T, head_dim)
  torch::Tensor sin = rope.sin.unsqueeze(1);
  return x * cos + rotated * sin;
}

}  // namespace r1rl::model
