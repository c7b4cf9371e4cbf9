#include "kernels/sampling.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace r1rl::kernels {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Candidates for top-k/top-p: (prob, id) pairs, most likely first, truncated.
// Only tokens above a probability floor are sorted; the floor is lowered until the kept
// mass reaches top_p (the nucleus is a prefix of the sorted order, so it lies inside).
std::vector<std::pair<float, int64_t>> Nucleus(const float* probs, int64_t vocab, int64_t top_k,
                                               double top_p) {
  std::vector<std::pair<float, int64_t>> cand;
  for (float floor = 1e-3f;; floor *= 0.1f) {
    cand.clear();
    double mass = 0;
    const float f = floor < 1e-12f ? -1.0f : floor;
    for (int64_t v = 0; v < vocab; ++v) {
      if (probs[v] > f) {
        cand.emplace_back(probs[v], v);
        mass += probs[v];
      }
    }
    const bool enough_k = top_k <= 0 || static_cast<int64_t>(cand.size()) >= top_k;
    if ((enough_k && (top_p >= 1.0 || mass >= top_p)) || f < 0) break;
  }
  std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  if (top_k > 0 && static_cast<int64_t>(cand.size()) > top_k) cand.resize(top_k);
  if (top_p < 1.0) {
    double cum = 0;
    size_t keep = 0;
    while (keep < cand.size() && cum < top_p) cum += cand[keep++].first;
    cand.resize(std::max<size_t>(keep, 1));
  }
  return cand;
}

// Inverse-CDF draw from unnormalised probabilities.
int64_t DrawFull(const float* probs, int64_t vocab, double u) {
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v) total += probs[v];
  double target = u * total, cum = 0;
  int64_t last = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    if (probs[v] <= 0) continue;
    cum += probs[v];
    last = v;
    if (cum > target) return v;
  }
  return last;
}

}  // namespace

double CounterUniform(uint64_t seed, uint64_t stream, int64_t step) {
  uint64_t x = SplitMix64(seed ^ SplitMix64(stream ^ SplitMix64(static_cast<uint64_t>(step))));
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
}

SampledTokens SampleTokens(const torch::Tensor& logits, const SamplingParams& params,
                           const std::vector<uint64_t>& stream_ids, int64_t step) {
  TORCH_CHECK(logits.dim() == 2, "SampleTokens: logits must be (B, V)");
  TORCH_CHECK(static_cast<int64_t>(stream_ids.size()) == logits.size(0),
              "SampleTokens: one stream id per row");
  torch::NoGradGuard no_grad;
  const auto device = logits.device();
  torch::Tensor z = logits.to(torch::kFloat32);
  SampledTokens out;
  if (params.greedy) {
    torch::Tensor logp = torch::log_softmax(z, -1);
    out.tokens = z.argmax(-1);
    out.logprobs = logp.gather(1, out.tokens.unsqueeze(1)).squeeze(1);
    return out;
  }
  TORCH_CHECK(params.temperature > 0, "SampleTokens: temperature must be > 0");
  torch::Tensor logp = torch::log_softmax(z / params.temperature, -1);
  torch::Tensor probs = logp.exp().to(torch::kCPU).contiguous();
  const int64_t batch = probs.size(0), vocab = probs.size(1);
  std::vector<int64_t> chosen(batch);
  const bool truncate = params.top_k > 0 || params.top_p < 1.0;
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* row = probs.data_ptr<float>() + b * vocab;
      const double u = CounterUniform(params.seed, stream_ids[b], step);
      if (!truncate) {
        chosen[b] = DrawFull(row, vocab, u);
        continue;
      }
      auto cand = Nucleus(row, vocab, params.top_k, params.top_p);
      double total = 0;
      for (const auto& c : cand) total += c.first;
      double target = u * total, cum = 0;
      chosen[b] = cand.back().second;
      for (const auto& c : cand) {
        cum += c.first;
        if (cum > target) {
          chosen[b] = c.second;
          break;
        }
      }
    }
  });
  out.tokens = torch::tensor(chosen, torch::kInt64).to(device);
  out.logprobs = logp.gather(1, out.tokens.unsqueeze(1)).squeeze(1);
  return out;
}

}  // namespace r1rl::kernels
