#include "lib/model/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "lib/model/causal_lm.h"
#include "lib/model/policy.h"
#include "lib/model/test_paths.h"

namespace r1rl::model {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  std::string dir =
      (fs::temp_directory_path() / ("r1rl_ckpt_" + name + "_" + std::to_string(::getpid())))
          .string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void ExpectSameParameters(const CausalLMImpl& a, const CausalLMImpl& b, double tol) {
  auto pa = a.named_parameters();
  auto pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    const torch::Tensor* other = pb.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(torch::allclose(item.value(), *other, tol, tol)) << item.key();
  }
}

TEST(Checkpoint, SaveThenLoadGivesTheSameModelInEveryDtype) {
  auto original = Policy::Load(FixtureDir() + "/llama_tiny", {});
  ASSERT_TRUE(original.ok()) << original.status();
  for (const std::string dtype : {"float32", "bfloat16", "float16"}) {
    std::string dir = TempDir("roundtrip_" + dtype);
    ASSERT_TRUE((*original)->Save(dir, dtype).ok());
    auto loaded = Policy::Load(dir, {});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    // llama_tiny's weights are bfloat16 values: exact in float32 and bfloat16.
    ExpectSameParameters((*original)->lm(), (*loaded)->lm(), dtype == "float16" ? 1e-2 : 0);
    EXPECT_EQ((*loaded)->config().rope_scaling.type, "llama3");
    fs::remove_all(dir);
  }
}

// What the learner streams to workers: the bytes load into another model of the same shape
// exactly; a flipped header byte or another model's bytes are errors, not garbage weights.
TEST(Checkpoint, WeightsTravelAsBytes) {
  auto original = Policy::Load(FixtureDir() + "/llama_tiny", {});
  ASSERT_TRUE(original.ok()) << original.status();
  auto bytes = (*original)->SerializeWeights();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto receiver = Policy::RandomInit((*original)->config(), 99, {});
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE((*receiver)->LoadWeightsFrom(*bytes, "stream").ok());
  ExpectSameParameters((*original)->lm(), (*receiver)->lm(), 0);

  std::string corrupt = *bytes;
  corrupt[12] = '#';  // inside the JSON header
  absl::Status bad = (*receiver)->LoadWeightsFrom(corrupt, "stream v3");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("stream v3"), std::string::npos) << bad;

  ModelConfig other = (*original)->config();
  other.num_hidden_layers += 1;
  auto bigger = Policy::RandomInit(other, 1, {});
  ASSERT_TRUE(bigger.ok());
  absl::Status missing = (*bigger)->LoadWeightsFrom(*bytes, "stream");
  EXPECT_NE(missing.message().find("missing tensors"), std::string::npos) << missing;
}

// What a collective group delivers: tensors by name (here bfloat16, as GPU workers take
// them), copied into the parameters; a wrong shape, a missing or a foreign tensor is an error.
TEST(Checkpoint, WeightsTravelAsTensors) {
  auto original = Policy::Load(FixtureDir() + "/llama_tiny", {});
  ASSERT_TRUE(original.ok()) << original.status();
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  for (const auto& item : (*original)->lm().named_parameters()) {
    names.push_back(item.key());
    tensors.push_back(item.value().detach().to(torch::kBFloat16));
  }
  auto receiver = Policy::RandomInit((*original)->config(), 99, {});
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE((*receiver)->LoadWeightsFrom(names, tensors, "version 3").ok());
  // llama_tiny's weights are bfloat16 values: exact after the round trip.
  ExpectSameParameters((*original)->lm(), (*receiver)->lm(), 0);

  auto wrong = tensors;
  wrong[0] = torch::zeros({3, 3});
  absl::Status bad = (*receiver)->LoadWeightsFrom(names, wrong, "version 4");
  EXPECT_NE(bad.message().find("version 4: tensor \"" + names[0] + "\": shape [3, 3]"),
            std::string::npos)
      << bad;
  auto fewer_names = names;
  auto fewer = tensors;
  fewer_names.pop_back();
  fewer.pop_back();
  absl::Status missing = (*receiver)->LoadWeightsFrom(fewer_names, fewer, "version 5");
  EXPECT_NE(missing.message().find("missing tensors: " + names.back()), std::string::npos)
      << missing;
  auto more_names = names;
  auto more = tensors;
  more_names.push_back("extra.weight");
  more.push_back(torch::zeros({2}));
  absl::Status foreign = (*receiver)->LoadWeightsFrom(more_names, more, "version 6");
  EXPECT_NE(foreign.message().find("\"extra.weight\" is not a parameter"), std::string::npos)
      << foreign;
  EXPECT_FALSE((*receiver)->LoadWeightsFrom(names, fewer, "version 7").ok());
}

TEST(Checkpoint, ShardedSaveLoads) {
  auto original = Policy::Load(FixtureDir() + "/qwen2_tiny", {});
  ASSERT_TRUE(original.ok());
  std::string dir = TempDir("sharded");
  ASSERT_TRUE(SaveWeights((*original)->lm(), dir, "float32", 100000).ok());
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
  fs::copy_file(FixtureDir() + "/qwen2_tiny/config.json", dir + "/config.json");
  auto loaded = Policy::Load(dir, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameParameters((*original)->lm(), (*loaded)->lm(), 0);
  fs::remove_all(dir);
}

// Copies the qwen2_tiny fixture and lets a test change its config.json.
std::string CopyWithConfig(const std::string& name, const std::string& from,
                           const std::string& to) {
  std::string dir = TempDir(name);
  fs::copy(FixtureDir() + "/qwen2_tiny", dir,
           fs::copy_options::overwrite_existing | fs::copy_options::recursive);
  std::ifstream in(dir + "/config.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  std::ofstream(dir + "/config.json") << text;
  return dir;
}

TEST(Checkpoint, ShapeDisagreeingWithConfigNamesTheTensor) {
  std::string dir =
      CopyWithConfig("shape", "\"intermediate_size\": 176", "\"intermediate_size\": 180");
  auto loaded = Policy::Load(dir, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("mlp"), std::string::npos) << loaded.status();
  EXPECT_NE(loaded.status().message().find("config.json"), std::string::npos) << loaded.status();
  fs::remove_all(dir);
}

TEST(Checkpoint, MissingTensorsAreListed) {
  // Untying the embeddings asks for lm_head.weight, which the tied checkpoint lacks.
  std::string dir =
      CopyWithConfig("missing", "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
  auto loaded = Policy::Load(dir, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("lm_head.weight"), std::string::npos) << loaded.status();
  fs::remove_all(dir);
}

TEST(Checkpoint, TensorTheModelLacksIsRejected) {
  std::string dir = CopyWithConfig("extra", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
  auto loaded = Policy::Load(dir, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("model.layers.1."), std::string::npos)
      << loaded.status();
  fs::remove_all(dir);
}

TEST(Checkpoint, TruncatedWeightsFileIsAnErrorNotACrash) {
  std::string dir = TempDir("truncated");
  fs::copy(FixtureDir() + "/qwen2_tiny", dir,
           fs::copy_options::overwrite_existing | fs::copy_options::recursive);
  fs::resize_file(dir + "/model.safetensors", 1000);
  auto loaded = Policy::Load(dir, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("model.safetensors"), std::string::npos)
      << loaded.status();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1rl::model
