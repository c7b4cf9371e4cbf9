#include "lib/tokenizer/char_tokenizer.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1rl::tokenizer {
namespace {

using ::testing::ElementsAre;

CharTokenizerOptions Options(std::string characters, std::vector<std::string> specials,
                             std::string unk = "") {
  CharTokenizerOptions options;
  options.characters = std::move(characters);
  options.special_tokens = std::move(specials);
  options.unk_token = std::move(unk);
  return options;
}

CharTokenizerOptions Chars(std::string characters) {
  CharTokenizerOptions options;
  options.characters = std::move(characters);
  return options;
}

std::unique_ptr<CharTokenizer> MustCreate(CharTokenizerOptions options = {}) {
  absl::StatusOr<std::unique_ptr<CharTokenizer>> tokenizer =
      CharTokenizer::Create(std::move(options));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(CharTokenizer, SpecialsComeFirstThenCharacters) {
  auto tok = MustCreate(Options("ab ", {"<pad>", "<eos>"}));
  EXPECT_EQ(tok->vocab_size(), 5);
  EXPECT_THAT(tok->Encode("ab a<eos>"), ElementsAre(2, 3, 4, 2, 1));
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(2));
  EXPECT_EQ(tok->TokenToId("<pad>"), 0);
  EXPECT_EQ(tok->IdToToken(3), "b");
}

TEST(CharTokenizer, EncodeDecodeRoundTripsTextWithTags) {
  auto tok = MustCreate();
  const std::string text = "<bos><think>2 + 3 = 5\n\tok</think> <answer>5</answer><eos>";
  absl::StatusOr<std::string> decoded = tok->Decode(tok->Encode(text));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, text);
  EXPECT_EQ(tok->Encode("<think>").size(), 1u);
}

TEST(CharTokenizer, UnknownCharactersAreDroppedOrBecomeUnk) {
  auto dropping = MustCreate(Options("ab", {"<unk>"}));
  EXPECT_THAT(dropping->Encode("aéb"), ElementsAre(1, 2));
  auto unk = MustCreate(Options("ab", {"<unk>"}, "<unk>"));
  EXPECT_THAT(unk->Encode("aéb"), ElementsAre(1, 0, 2));
}

TEST(CharTokenizer, DecodeRejectsOutOfRangeIds) {
  auto tok = MustCreate();
  EXPECT_FALSE(tok->Decode({tok->vocab_size()}).ok());
}

TEST(CharTokenizer, BadOptionsAreRejected) {
  EXPECT_FALSE(CharTokenizer::Create(Chars("aa")).ok());
  EXPECT_FALSE(CharTokenizer::Create(Options("a", {"<x>", "<x>"})).ok());
  EXPECT_FALSE(CharTokenizer::Create(Options("a", {"a"})).ok());
  EXPECT_FALSE(CharTokenizer::Create(Options("a", {"<pad>"}, "<unk>")).ok());
  EXPECT_FALSE(CharTokenizer::Create(Chars("\xFF")).ok());
}

TEST(CharTokenizer, JsonRoundTripKeepsOptionsAndIds) {
  auto tok = MustCreate(Options("xyz中", {"<pad>", "<unk>"}, "<unk>"));
  absl::StatusOr<std::unique_ptr<CharTokenizer>> back =
      CharTokenizer::FromJson(tok->ToJson(), "mem");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->options().characters, "xyz中");
  EXPECT_THAT((*back)->options().special_tokens, ElementsAre("<pad>", "<unk>"));
  EXPECT_EQ((*back)->options().unk_token, "<unk>");
  EXPECT_EQ((*back)->Encode("x中q"), tok->Encode("x中q"));
}

TEST(CharTokenizer, SavedFileLoadsAsACharTokenizerAndThroughLoadTokenizer) {
  auto tok = MustCreate();
  const std::string path = ::testing::TempDir() + "/char_tokenizer.json";
  ASSERT_TRUE(tok->Save(path).ok());
  absl::StatusOr<std::unique_ptr<CharTokenizer>> loaded = CharTokenizer::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> generic = LoadTokenizer(path);
  ASSERT_TRUE(generic.ok()) << generic.status();
  const std::string text = "<bos>Hello, world!<eos>";
  EXPECT_EQ((*loaded)->Encode(text), tok->Encode(text));
  EXPECT_EQ((*generic)->Encode(text), tok->Encode(text));
  std::remove(path.c_str());
}

TEST(CharTokenizer, FromJsonRejectsOtherTokenizers) {
  EXPECT_FALSE(CharTokenizer::FromJson("{", "x").ok());
  EXPECT_FALSE(
      CharTokenizer::FromJson(
          R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})",
          "x")
          .ok());
}

}  // namespace
}  // namespace r1rl::tokenizer
