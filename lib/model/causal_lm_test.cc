// Logits of r1rl's CausalLM against transformers' on the same checkpoints
// (tests/fixtures/model, written by tools/fixtures/make_model_fixtures.py).
#include "lib/model/causal_lm.h"

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "lib/model/policy.h"
#include "lib/model/test_paths.h"
#include "lib/safetensors/safetensors.h"

namespace r1rl::model {
namespace {

torch::Tensor ReadTensor(const safetensors::SafetensorsFile& file, const std::string& name) {
  const safetensors::TensorView* view = file.Find(name);
  EXPECT_NE(view, nullptr) << name;
  auto type = view->dtype == safetensors::DType::kI64 ? torch::kInt64 : torch::kFloat32;
  return torch::from_blob(const_cast<uint8_t*>(view->data), view->shape, type).clone();
}

class LogitsMatchTransformers : public ::testing::TestWithParam<std::string> {};

TEST_P(LogitsMatchTransformers, WithinOneInTenThousandOnEveryRealToken) {
  const std::string name = GetParam();
  auto policy = Policy::Load(FixtureDir() + "/" + name, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto file = safetensors::SafetensorsFile::Open(FixtureDir() + "/" + name + "_logits.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  torch::Tensor ids = ReadTensor(**file, "input_ids");
  torch::Tensor mask = ReadTensor(**file, "attention_mask");
  torch::Tensor expected = ReadTensor(**file, "logits");

  torch::NoGradGuard no_grad;
  CausalLMImpl& lm = (*policy)->lm();
  torch::Tensor logits = lm.Logits(lm.forward(ids, mask));
  ASSERT_EQ(logits.sizes(), expected.sizes());
  torch::Tensor real = mask.to(torch::kBool).unsqueeze(-1).expand_as(logits);
  const double max_diff = (logits - expected).abs().masked_select(real).max().item<double>();
  EXPECT_LT(max_diff, 1e-4) << name;
}

INSTANTIATE_TEST_SUITE_P(TinyModels, LogitsMatchTransformers,
                         ::testing::Values("qwen2_tiny", "llama_tiny"));

TEST(CausalLM, ParameterNamesAreHuggingFaces) {
  ModelConfig config;
  config.model_type = "qwen2";
  config.vocab_size = 32;
  config.hidden_size = 16;
  config.intermediate_size = 24;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 8;
  config.attention_bias = true;
  config.tie_word_embeddings = false;
  CausalLM lm(config);
  std::vector<std::string> names;
  for (const auto& item : lm->named_parameters()) names.push_back(item.key());
  std::vector<std::string> expected = {"model.embed_tokens.weight",
                                       "model.layers.0.input_layernorm.weight",
                                       "model.layers.0.self_attn.q_proj.weight",
                                       "model.layers.0.self_attn.q_proj.bias",
                                       "model.layers.0.self_attn.k_proj.weight",
                                       "model.layers.0.self_attn.k_proj.bias",
                                       "model.layers.0.self_attn.v_proj.weight",
                                       "model.layers.0.self_attn.v_proj.bias",
                                       "model.layers.0.self_attn.o_proj.weight",
                                       "model.layers.0.post_attention_layernorm.weight",
                                       "model.layers.0.mlp.gate_proj.weight",
                                       "model.layers.0.mlp.up_proj.weight",
                                       "model.layers.0.mlp.down_proj.weight",
                                       "model.norm.weight",
                                       "lm_head.weight"};
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

TEST(CausalLM, KVCacheDecodingEqualsFullForward) {
  auto policy = Policy::Load(FixtureDir() + "/qwen2_tiny", {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  CausalLMImpl& lm = (*policy)->lm();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(4, 1000, {2, 9}, torch::kInt64);
  torch::Tensor full = lm.forward(ids, torch::ones({2, 9}, torch::kInt64));
  KVCache cache = lm.NewCache(2, 16);
  cache.key_valid.narrow(1, 0, 9).fill_(true);
  torch::Tensor valid = cache.key_valid.narrow(1, 0, 5);
  torch::Tensor pos = torch::arange(5, torch::kInt64).unsqueeze(0).expand({2, 5});
  torch::Tensor h =
      lm.ForwardHidden(ids.narrow(1, 0, 5), pos, BuildAttentionMask(valid, 0, 5), &cache);
  EXPECT_TRUE(torch::allclose(h, full.narrow(1, 0, 5), 1e-5, 1e-5));
  for (int64_t t = 5; t < 9; ++t) {
    torch::Tensor step_pos = torch::full({2, 1}, t, torch::kInt64);
    torch::Tensor m = BuildAttentionMask(cache.key_valid.narrow(1, 0, t + 1), t, 1);
    torch::Tensor step = lm.ForwardHidden(ids.narrow(1, t, 1), step_pos, m, &cache);
    EXPECT_TRUE(torch::allclose(step.select(1, 0), full.select(1, t), 1e-5, 1e-5)) << t;
  }
}

}  // namespace
}  // namespace r1rl::model
