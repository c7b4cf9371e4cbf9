#include "lib/safetensors/sharded.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/safetensors/safetensors_writer.h"
#include "lib/safetensors/scoped_temp_dir.h"
#include "nlohmann/json.hpp"

namespace r1rl::safetensors {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct OwnedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;

  TensorView view() const {
    return TensorView{name, DType::kF32, shape, reinterpret_cast<const uint8_t*>(values.data()),
                      values.size() * sizeof(float)};
  }
};

OwnedTensor MakeTensor(const std::string& name, int64_t n, float first) {
  OwnedTensor t{name, {n}, {}};
  for (int64_t i = 0; i < n; ++i) t.values.push_back(first + static_cast<float>(i));
  return t;
}

std::vector<TensorView> Views(const std::vector<OwnedTensor>& tensors) {
  std::vector<TensorView> views;
  for (const OwnedTensor& t : tensors) views.push_back(t.view());
  return views;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Three 16-byte tensors and one 48-byte tensor.
std::vector<OwnedTensor> Model() {
  return {MakeTensor("model.embed_tokens.weight", 4, 0), MakeTensor("model.layers.0.w", 4, 10),
          MakeTensor("model.layers.1.w", 12, 20), MakeTensor("model.norm.weight", 4, 40)};
}

void ExpectValues(const TensorView* view, const OwnedTensor& want) {
  ASSERT_NE(view, nullptr) << want.name;
  ASSERT_EQ(view->nbytes, want.values.size() * sizeof(float));
  std::vector<float> got(want.values.size());
  std::memcpy(got.data(), view->data, view->nbytes);
  EXPECT_EQ(got, want.values) << want.name;
}

TEST(WriteShardedSafetensors, FitsInOneFileWritesModelSafetensors) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path();
  const std::vector<OwnedTensor> model = Model();
  ASSERT_TRUE(WriteShardedSafetensors(dir, Views(model), 1 << 20).ok());
  EXPECT_THAT(ListDir(dir), ElementsAre("model.safetensors"));
  auto opened = ShardedSafetensors::OpenDir(dir);
  ASSERT_TRUE(opened.ok()) << opened.status();
  for (const OwnedTensor& t : model) ExpectValues((*opened)->Find(t.name), t);
  EXPECT_EQ((*opened)->shards().size(), 1u);
}

TEST(WriteShardedSafetensors, SplitsLikeSavePretrainedAndReadsBackThroughMmap) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path();
  const std::vector<OwnedTensor> model = Model();
  // 32-byte shards, as huggingface_hub splits: layers.1 (48 > 32 bytes) gets a shard
  // of its own, closed at once and so numbered before [embed, layers.0]; then [norm].
  ASSERT_TRUE(WriteShardedSafetensors(dir, Views(model), 32).ok());
  EXPECT_THAT(ListDir(dir),
              ElementsAre("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                          "model-00003-of-00003.safetensors", "model.safetensors.index.json"));
  const nlohmann::json index =
      nlohmann::json::parse(ReadAll(dir + "/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 96);
  EXPECT_EQ(index["weight_map"]["model.layers.1.w"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["model.embed_tokens.weight"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["model.layers.0.w"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["model.norm.weight"], "model-00003-of-00003.safetensors");
  // json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it.
  EXPECT_EQ(ReadAll(dir + "/model.safetensors.index.json"), index.dump(2) + "\n");

  auto opened = ShardedSafetensors::OpenDir(dir);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)->shards().size(), 3u);
  EXPECT_THAT((*opened)->names(), ElementsAre("model.embed_tokens.weight", "model.layers.0.w",
                                              "model.layers.1.w", "model.norm.weight"));
  for (const OwnedTensor& t : model) ExpectValues((*opened)->Find(t.name), t);
  EXPECT_EQ((*opened)->Find("lm_head.weight"), nullptr);
  EXPECT_EQ((*opened)->Get("lm_head.weight").status().code(), absl::StatusCode::kNotFound);
}

TEST(WriteShardedSafetensors, TwoShardsThenSingleFileRemovesStaleShards) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path();
  const std::vector<OwnedTensor> model = {MakeTensor("a", 4, 0), MakeTensor("b", 4, 1)};
  ASSERT_TRUE(WriteShardedSafetensors(dir, Views(model), 16).ok());
  EXPECT_THAT(ListDir(dir),
              ElementsAre("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"));
  auto two = ShardedSafetensors::OpenDir(dir);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ((*two)->shards().size(), 2u);
  two->reset();
  ASSERT_TRUE(WriteShardedSafetensors(dir, Views(model), 1024).ok());
  EXPECT_THAT(ListDir(dir), ElementsAre("model.safetensors"));
}

TEST(WriteShardedSafetensors, RejectsDuplicateNamesAcrossShards) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path();
  const std::vector<OwnedTensor> model = {MakeTensor("a", 4, 0), MakeTensor("a", 4, 1)};
  absl::Status s = WriteShardedSafetensors(dir, Views(model), 16);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("duplicate"));
  EXPECT_TRUE(ListDir(dir).empty());
  EXPECT_EQ(WriteShardedSafetensors(dir, {}, 0).code(), absl::StatusCode::kInvalidArgument);
}

class ShardedErrors : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    model_ = {MakeTensor("a", 4, 0), MakeTensor("b", 4, 1)};
    ASSERT_TRUE(WriteShardedSafetensors(dir_, Views(model_), 16).ok());
  }
  void WriteIndex(const std::string& text) {
    std::ofstream(dir_ + "/model.safetensors.index.json") << text;
  }
  absl::Status Open() { return ShardedSafetensors::OpenDir(dir_).status(); }

  ScopedTempDir tmp_;
  std::string dir_;
  std::vector<OwnedTensor> model_;
};

TEST_F(ShardedErrors, EmptyDirectoryIsNotFound) {
  ScopedTempDir empty;
  absl::Status s = ShardedSafetensors::OpenDir(empty.path()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

TEST_F(ShardedErrors, MissingShard) {
  fs::remove(dir_ + "/model-00002-of-00002.safetensors");
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("model.safetensors.index.json"),
                    HasSubstr("\"model-00002-of-00002.safetensors\""), HasSubstr("missing")));
}

TEST_F(ShardedErrors, WeightMapNamesTensorAbsentFromItsShard) {
  WriteIndex(R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                "b": "model-00002-of-00002.safetensors",
                                "c": "model-00002-of-00002.safetensors"}})");
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"c\""), HasSubstr("does not contain it")));
}

TEST_F(ShardedErrors, TensorStoredInTwoShards) {
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model-00002-of-00002.safetensors",
                               {model_[0].view(), model_[1].view()})
                  .ok());
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"a\""), HasSubstr("two shards")));
}

TEST_F(ShardedErrors, TensorInShardTheWeightMapSendsElsewhere) {
  WriteIndex(R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                "b": "model-00001-of-00002.safetensors"}})");
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("\"b\""));
}

TEST_F(ShardedErrors, IndexNotJsonOrWithoutWeightMap) {
  WriteIndex("{");
  EXPECT_THAT(Open().message(), HasSubstr("not valid JSON"));
  WriteIndex(R"({"metadata": {}})");
  EXPECT_THAT(Open().message(), HasSubstr("weight_map"));
  WriteIndex(R"({"weight_map": {"a": 3}})");
  EXPECT_THAT(Open().message(), HasSubstr("weight_map[\"a\"]"));
}

TEST_F(ShardedErrors, ShardOutsideDirectoryIsRejected) {
  WriteIndex(R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})");
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a file in the checkpoint directory"));
}

TEST_F(ShardedErrors, CorruptShardNamesTheShardFile) {
  std::ofstream(dir_ + "/model-00001-of-00002.safetensors") << "abc";
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("model-00001-of-00002.safetensors"));
}

}  // namespace
}  // namespace r1rl::safetensors
