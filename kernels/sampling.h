// Token sampling from a batch of logits: temperature, top-k, top-p (nucleus), greedy.
//
// Randomness is counter-based: the uniform number for row i is a hash of
// (seed, stream_ids[i], step). A sequence therefore gets the same draws whatever batch it
// is in and wherever it sits in it, so seeded runs are reproducible across batch sizes,
// thread counts and batch compaction.
//
// The returned log-prob is the *behaviour log-prob*: log softmax(logits / temperature) at
// the sampled token, over the full vocabulary, before top-k/top-p truncation. That is the
// quantity the learner recomputes (kernels/token_logprobs.h with the same temperature),
// so the GRPO ratio pi_theta / pi_old compares like with like. With top-k/top-p < full,
// the true sampling probability is larger than this (see docs/generation.md). Greedy
// returns log softmax(logits) at the arg-max (temperature 1).
//
// Thread-safety: stateless.
#ifndef R1RL_KERNELS_SAMPLING_H_
#define R1RL_KERNELS_SAMPLING_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace r1rl::kernels {

struct SamplingParams {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // (0, 1]; 1 = off
  bool greedy = false;
  uint64_t seed = 0;
};

struct SampledTokens {
  torch::Tensor tokens;    // int64 (B), on the device of the logits
  torch::Tensor logprobs;  // float32 (B), on the device of the logits
};

// logits: (B, V) floating. stream_ids: B ids (one per sequence). step: the index of the
// token being sampled within its sequence's completion.
SampledTokens SampleTokens(const torch::Tensor& logits, const SamplingParams& params,
                           const std::vector<uint64_t>& stream_ids, int64_t step);

// The uniform number in [0, 1) that row `stream` uses at `step` (exposed for tests).
double CounterUniform(uint64_t seed, uint64_t stream, int64_t step);

}  // namespace r1rl::kernels

#endif  // R1RL_KERNELS_SAMPLING_H_
