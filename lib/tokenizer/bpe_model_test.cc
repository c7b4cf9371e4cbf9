#include "lib/tokenizer/bpe_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1rl::tokenizer {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<BpeModel> Model(BpeModelOptions options) {
  absl::StatusOr<std::unique_ptr<BpeModel>> model = BpeModel::Create(std::move(options));
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

std::vector<int32_t> Ids(const BpeModel& model, std::string_view word) {
  std::vector<int32_t> ids;
  model.Tokenize(word, &ids);
  return ids;
}

BpeModelOptions AbcOptions() {
  BpeModelOptions options;
  options.vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"aa", 6}};
  options.merges = {{"b", "c"}, {"a", "b"}, {"a", "bc"}, {"a", "a"}};
  return options;
}

TEST(BpeModel, LowestRankMergesFirst) {
  auto model = Model(AbcOptions());
  // "bc" (rank 0) beats "ab" (rank 1), then "a"+"bc".
  EXPECT_THAT(Ids(*model, "abc"), ElementsAre(5));
  EXPECT_THAT(Ids(*model, "ab"), ElementsAre(3));
  EXPECT_THAT(Ids(*model, "cab"), ElementsAre(2, 3));
}

TEST(BpeModel, EqualRanksMergeLeftmostFirst) {
  auto model = Model(AbcOptions());
  EXPECT_THAT(Ids(*model, "aaa"), ElementsAre(6, 0));
  EXPECT_THAT(Ids(*model, "aaaa"), ElementsAre(6, 6));
}

TEST(BpeModel, CachedResultsEqualFreshOnes) {
  auto model = Model(AbcOptions());
  for (int i = 0; i < 3; ++i) EXPECT_THAT(Ids(*model, "abcaa"), ElementsAre(5, 6));
}

TEST(BpeModel, IgnoreMergesEmitsAWordInTheVocabWhole) {
  BpeModelOptions options;
  options.vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}};
  options.merges = {{"a", "b"}};
  auto plain = Model(options);
  EXPECT_THAT(Ids(*plain, "abc"), ElementsAre(3, 2));
  options.ignore_merges = true;
  auto ignoring = Model(options);
  EXPECT_THAT(Ids(*ignoring, "abc"), ElementsAre(4));
}

TEST(BpeModel, UnknownCharactersUseUnkOrAreDropped) {
  BpeModelOptions options;
  options.vocab = {{"a", 0}, {"<unk>", 1}};
  auto dropping = Model(options);
  EXPECT_THAT(Ids(*dropping, "axya"), ElementsAre(0, 0));
  options.unk_token = "<unk>";
  auto unk = Model(options);
  EXPECT_THAT(Ids(*unk, "axya"), ElementsAre(0, 1, 1, 0));
  options.fuse_unk = true;
  auto fused = Model(options);
  EXPECT_THAT(Ids(*fused, "axya"), ElementsAre(0, 1, 0));
}

TEST(BpeModel, ByteFallbackSpellsUnknownCharactersAsBytes) {
  BpeModelOptions options;
  options.vocab = {{"a", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}};
  options.byte_fallback = true;
  auto model = Model(options);
  EXPECT_THAT(Ids(*model, "aé"), ElementsAre(0, 1, 2));
}

TEST(BpeModel, LongWordsMergeWithoutQuadraticBlowup) {
  BpeModelOptions options;
  options.vocab = {{"a", 0}, {"aa", 1}};
  options.merges = {{"a", "a"}};
  auto model = Model(options);
  EXPECT_EQ(Ids(*model, std::string(200001, 'a')).size(), 100001u);
}

}  // namespace
}  // namespace r1rl::tokenizer
