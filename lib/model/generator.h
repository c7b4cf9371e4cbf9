// Generator: batched sampling from a Policy with a KV cache (prefill, then one token per
// step), each sequence finishing on its own.
//
// Sequences are processed in batches of up to `max_batch`: prompts are left-padded so all
// rows append at the same cache index, and rows that finish are dropped from the batch
// (cache included) once a quarter of it is done. For every sampled token the completion
// records its behaviour log-prob (kernels/sampling.h says exactly which number that is).
//
// Reproducibility: a completion's random draws depend only on (seed, prompt key, sample
// index, step), not on batch size, batch position or thread count. The prompt key is the
// prompt's index in the call, or the key the caller gives (the rollout worker gives each
// prompt's dataset position, so a group is the same in whatever batch it is drawn).
//
// Thread-safety: one Generate call at a time (it drives the policy's module).
#ifndef R1RL_LIB_MODEL_GENERATOR_H_
#define R1RL_LIB_MODEL_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/policy.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::model {

struct GenerationOptions {
  int64_t max_new_tokens = 256;  // per completion
  double temperature = 1.0;      // > 0
  double top_p = 1.0;            // (0, 1]
  int64_t top_k = 0;             // 0 = off
  bool greedy = false;           // arg-max; temperature/top-p/top-k ignored
  uint64_t seed = 0;
  // Finish with reason "stop" on these ids, in addition to config.json's eos_token_id(s).
  std::vector<int32_t> stop_token_ids;
  // Do not stop on config.json's eos_token_id(s) (benchmarks, fixed-length tests).
  bool ignore_eos = false;
  // Finish with reason "stop" once the completion's text contains one of these; the text is
  // cut right after it. Needs a tokenizer.
  std::vector<std::string> stop_strings;
  int64_t max_batch = 64;  // sequences decoded together
  // false: recompute the whole prefix every step (no cache). For benchmarks and tests.
  bool use_kv_cache = true;
};

enum class FinishReason { kStop, kLength };
const char* FinishReasonName(FinishReason reason);  // "stop", "length"

struct Completion {
  int64_t prompt_index = 0;
  int64_t sample_index = 0;
  std::vector<int32_t> token_ids;  // sampled tokens, the stop token included
  std::vector<float> logprobs;     // behaviour log-prob of each token in token_ids
  std::string text;                // decoded completion, without a stop token id's text
  FinishReason finish_reason = FinishReason::kLength;
};

class Generator {
 public:
  // `policy` must outlive the generator; `tokenizer` may be null when no stop strings
  // are set (then `text` stays empty).
  Generator(Policy* policy, const tokenizer::Tokenizer* tokenizer, GenerationOptions options);

  // `num_samples` completions for each prompt (token ids), prompt-major order.
  // InvalidArgument for an empty prompt, an id outside the vocabulary, bad options or a
  // prompt + max_new_tokens longer than max_position_embeddings.
  [[nodiscard]] absl::StatusOr<std::vector<Completion>> Generate(
      const std::vector<std::vector<int32_t>>& prompts, int64_t num_samples);
  // The same with the prompts' random streams keyed by `prompt_keys` (one per prompt).
  [[nodiscard]] absl::StatusOr<std::vector<Completion>> Generate(
      const std::vector<std::vector<int32_t>>& prompts, int64_t num_samples,
      const std::vector<uint64_t>& prompt_keys);

  // Tokens sampled (all completions) by the last Generate call.
  int64_t last_generated_tokens() const { return last_generated_tokens_; }

 private:
  absl::Status Validate(const std::vector<std::vector<int32_t>>& prompts) const;

  Policy* policy_;
  const tokenizer::Tokenizer* tokenizer_;
  GenerationOptions options_;
  int64_t last_generated_tokens_ = 0;
};

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_GENERATOR_H_
