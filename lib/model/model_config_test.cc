#include "lib/model/model_config.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace r1rl::model {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string SharedConfigPath(const std::string& name) {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  return absl::StrCat(root != nullptr ? root : ".", "/../shared/data/tokenizers/qwen2.5/", name);
}

void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.architectures, b.architectures);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings,
            b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
}

void ExpectRoundTrips(const ModelConfig& config) {
  auto again = ParseModelConfig(ModelConfigToJson(config), "roundtrip.json");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << ModelConfigToJson(config);
  ExpectSameConfig(*again, config);
}

// The shape of Llama-3.1-8B's config.json.
constexpr char kLlama31Config[] = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "vocab_size": 128256
})";

json MinimalLlama() {
  return {{"model_type", "llama"},    {"vocab_size", 100},      {"hidden_size", 64},
          {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
}

TEST(ParseModelConfig, ReadsQwen25HalfBillionConfig) {
  auto config = LoadModelConfig(SharedConfigPath("config.json"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->model_type, "qwen2");
  EXPECT_THAT(config->architectures, ElementsAre("Qwen2ForCausalLM"));
  EXPECT_EQ(config->hidden_size, 896);
  EXPECT_EQ(config->num_key_value_heads, 2);
  EXPECT_EQ(config->head_dim, 64);
  EXPECT_EQ(config->max_position_embeddings, 32768);
  EXPECT_EQ(config->rope_theta, 1000000.0);
  EXPECT_EQ(config->rms_norm_eps, 1e-6);
  EXPECT_EQ(config->rope_scaling.type, "none");
  EXPECT_TRUE(config->attention_bias);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->bos_token_id, 151643);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(151645));
  EXPECT_EQ(config->torch_dtype, "float32");
  EXPECT_EQ(config->NumParameters(), 494032768);
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, ReadsTinyConfig) {
  auto config = LoadModelConfig(SharedConfigPath("config.tiny.json"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 16);
  EXPECT_EQ(config->num_hidden_layers, 2);
  // 151936*64 tied + 2 * (q 64*64 + k,v 2*64*32 + o 64*64 + biases 64+64 + mlp 3*64*176
  // + norms 128) + final norm 64.
  EXPECT_EQ(config->NumParameters(),
            151936 * 64 + 2 * (4096 + 4096 + 4096 + 128 + 33792 + 128) + 64);
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, ReadsLlama31WithLlama3RopeScaling) {
  auto config = ParseModelConfig(kLlama31Config, "llama31.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, "llama3");
  EXPECT_EQ(config->rope_scaling.factor, 8.0);
  EXPECT_EQ(config->rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128001, 128008, 128009));
  EXPECT_EQ(config->head_dim, 128);
  EXPECT_FALSE(config->attention_bias);
  EXPECT_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_EQ(config->NumParameters(), 8030261248);  // Llama-3.1-8B
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, LlamaDefaultsFollowTransformers) {
  auto config = ParseModelConfig(MinimalLlama().dump());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->architectures, ElementsAre("LlamaForCausalLM"));
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->head_dim, 16);
  EXPECT_EQ(config->max_position_embeddings, 2048);
  EXPECT_EQ(config->rope_theta, 10000.0);
  EXPECT_EQ(config->rms_norm_eps, 1e-6);
  EXPECT_FALSE(config->tie_word_embeddings);
  EXPECT_FALSE(config->attention_bias);
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(2));
  EXPECT_EQ(config->rope_scaling.type, "none");
  // Untied: embeddings and lm_head. Layers: 4*64*64 attention + 3*64*128 mlp + 128 norms.
  EXPECT_EQ(config->NumParameters(), 2 * 100 * 64 + 2 * (4 * 4096 + 3 * 8192 + 128) + 64);
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, Qwen2DefaultsAndAlwaysBiased) {
  json j = MinimalLlama();
  j["model_type"] = "qwen2";
  j["attention_bias"] = false;  // Qwen2 ignores it: q/k/v always carry a bias
  auto config = ParseModelConfig(j.dump());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->attention_bias);
  EXPECT_EQ(config->max_position_embeddings, 32768);
  EXPECT_EQ(config->bos_token_id, -1);
  EXPECT_TRUE(config->eos_token_ids.empty());
  EXPECT_THAT(config->architectures, ElementsAre("Qwen2ForCausalLM"));
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, NullFieldsReadAsAbsentAndExplicitNullTokensAsNone) {
  json j = MinimalLlama();
  j["num_key_value_heads"] = nullptr;
  j["head_dim"] = nullptr;
  j["bos_token_id"] = nullptr;
  j["eos_token_id"] = nullptr;
  auto config = ParseModelConfig(j.dump());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->head_dim, 16);
  EXPECT_EQ(config->bos_token_id, -1);
  EXPECT_TRUE(config->eos_token_ids.empty());
  ExpectRoundTrips(*config);
}

TEST(ParseModelConfig, RopeScalingSpellings) {
  json j = MinimalLlama();
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 32},
                       {"low_freq_factor", 1},
                       {"high_freq_factor", 4},
                       {"original_max_position_embeddings", 8192}};
  auto old_key = ParseModelConfig(j.dump());
  ASSERT_TRUE(old_key.ok()) << old_key.status();
  EXPECT_EQ(old_key->rope_scaling.type, "llama3");
  EXPECT_EQ(old_key->rope_scaling.factor, 32.0);
  j["rope_scaling"] = {{"rope_type", "default"}};
  auto default_type = ParseModelConfig(j.dump());
  ASSERT_TRUE(default_type.ok()) << default_type.status();
  EXPECT_EQ(default_type->rope_scaling.type, "none");
}

TEST(ModelConfig, LlamaAttentionBiasAlsoBiasesOutputProjection) {
  json j = MinimalLlama();
  auto plain = ParseModelConfig(j.dump());
  j["attention_bias"] = true;
  auto biased = ParseModelConfig(j.dump());
  ASSERT_TRUE(plain.ok() && biased.ok());
  // As transformers' LlamaAttention: q, k, v and o_proj biases, 4 * 64 per layer.
  EXPECT_EQ(biased->NumParameters() - plain->NumParameters(), 2 * 4 * 64);
}

TEST(ModelConfigToJson, WritesWhatTransformersExpects) {
  auto config = ParseModelConfig(kLlama31Config, "llama31.json");
  ASSERT_TRUE(config.ok());
  const json j = json::parse(ModelConfigToJson(*config));
  EXPECT_EQ(j["architectures"], json({"LlamaForCausalLM"}));
  EXPECT_EQ(j["model_type"], "llama");
  EXPECT_EQ(j["transformers_version"], "4.46.0");
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_EQ(j["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(j["eos_token_id"], json({128001, 128008, 128009}));
  EXPECT_EQ(j["hidden_act"], "silu");

  auto qwen = LoadModelConfig(SharedConfigPath("config.json"));
  ASSERT_TRUE(qwen.ok());
  const json q = json::parse(ModelConfigToJson(*qwen));
  EXPECT_TRUE(q["rope_scaling"].is_null());
  EXPECT_EQ(q["use_sliding_window"], false);
  EXPECT_EQ(q["eos_token_id"], 151645);
  EXPECT_FALSE(q.contains("head_dim"));  // Qwen2Config derives it
}

struct BadCase {
  const char* name;
  json patch;  // merged into MinimalLlama(); a null value removes the key
  std::vector<std::string> expected_substrings;
};

TEST(ParseModelConfig, RejectsBadConfigsNamingFileFieldAndValue) {
  const std::vector<BadCase> cases = {
      {"unknown model_type", {{"model_type", "mistral"}}, {"\"model_type\"", "\"mistral\""}},
      {"hidden_act", {{"hidden_act", "gelu"}}, {"\"hidden_act\"", "\"gelu\""}},
      {"sliding window", {{"use_sliding_window", true}}, {"\"use_sliding_window\"", "true"}},
      {"mlp_bias", {{"mlp_bias", true}}, {"\"mlp_bias\"", "true"}},
      {"negative", {{"hidden_size", -64}}, {"\"hidden_size\"", "-64", "positive"}},
      {"zero", {{"num_hidden_layers", 0}}, {"\"num_hidden_layers\"", "= 0"}},
      {"string int", {{"vocab_size", "100"}}, {"\"vocab_size\"", "\"100\"", "integer"}},
      {"float int", {{"intermediate_size", 128.5}}, {"\"intermediate_size\"", "128.5"}},
      {"kv heads", {{"num_key_value_heads", 3}}, {"\"num_key_value_heads\"", "= 3", "divide"}},
      {"head split", {{"hidden_size", 66}}, {"\"hidden_size\"", "66", "divisible"}},
      {"rope type",
       {{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}},
       {"\"rope_scaling.rope_type\"", "\"yarn\""}},
      {"rope llama3 missing factor",
       {{"rope_scaling",
         {{"rope_type", "llama3"},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 8192}}}},
       {"\"rope_scaling.factor\"", "missing"}},
      {"rope not object", {{"rope_scaling", "llama3"}}, {"\"rope_scaling\"", "\"llama3\""}},
      {"eos", {{"eos_token_id", "x"}}, {"\"eos_token_id\"", "\"x\""}},
      {"eos list", {{"eos_token_id", {1, "x"}}}, {"\"eos_token_id\"", "[1,\"x\"]"}},
      {"dtype", {{"torch_dtype", "float64"}}, {"\"torch_dtype\"", "\"float64\""}},
      {"bool", {{"tie_word_embeddings", "yes"}}, {"\"tie_word_embeddings\"", "\"yes\""}},
      {"theta", {{"rope_theta", "big"}}, {"\"rope_theta\"", "\"big\""}},
      {"eps", {{"rms_norm_eps", 0}}, {"\"rms_norm_eps\"", "positive"}},
      {"architectures", {{"architectures", "LlamaForCausalLM"}}, {"\"architectures\""}},
  };
  for (const BadCase& c : cases) {
    json j = MinimalLlama();
    for (const auto& [key, value] : c.patch.items()) j[key] = value;
    absl::Status s = ParseModelConfig(j.dump(), "bad/config.json").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("bad/config.json")) << c.name;
    for (const std::string& expected : c.expected_substrings) {
      EXPECT_THAT(std::string(s.message()), HasSubstr(expected)) << c.name;
    }
  }
}

TEST(ParseModelConfig, RejectsMissingRequiredFields) {
  for (const char* field : {"model_type", "vocab_size", "hidden_size", "intermediate_size",
                            "num_hidden_layers", "num_attention_heads"}) {
    json j = MinimalLlama();
    j.erase(field);
    absl::Status s = ParseModelConfig(j.dump(), "c.json").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(s.message()),
                AllOf(HasSubstr("c.json"), HasSubstr(absl::StrCat("\"", field, "\"")),
                      HasSubstr("missing")));
  }
}

TEST(ParseModelConfig, RejectsNonJsonAndNonObjects) {
  EXPECT_THAT(std::string(ParseModelConfig("{", "c.json").status().message()),
              AllOf(HasSubstr("c.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(std::string(ParseModelConfig("[]", "c.json").status().message()),
              HasSubstr("expected a JSON object"));
}

TEST(LoadModelConfig, MissingFileIsNotFound) {
  absl::Status s = LoadModelConfig("/nonexistent/config.json").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/config.json"));
}

}  // namespace
}  // namespace r1rl::model
