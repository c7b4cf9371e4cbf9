// A tiny random Qwen2-shaped policy for the trainers' tests (vocabulary 32, 2 layers).
#ifndef R1RL_LIB_TRAINING_TINY_POLICY_TEST_UTIL_H_
#define R1RL_LIB_TRAINING_TINY_POLICY_TEST_UTIL_H_

#include <memory>

#include "gtest/gtest.h"
#include "lib/model/policy.h"

namespace r1rl::learner {

inline model::ModelConfig TinyConfig() {
  model::ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 32;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.eos_token_ids = {2};
  return c;
}

inline std::unique_ptr<model::Policy> TinyPolicy(uint64_t seed) {
  auto p = model::Policy::RandomInit(TinyConfig(), seed, {});
  EXPECT_TRUE(p.ok()) << p.status();
  return std::move(*p);
}

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_TINY_POLICY_TEST_UTIL_H_
