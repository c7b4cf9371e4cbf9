#include "lib/tokenizer/pre_tokenizer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1rl::tokenizer {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<Regex> MustCompile(std::string_view pattern) {
  absl::StatusOr<std::unique_ptr<Regex>> regex = Regex::Create(pattern, false);
  EXPECT_TRUE(regex.ok()) << regex.status();
  return *std::move(regex);
}

TEST(SplitWithRegex, BehavioursFoldMatchesLikeHuggingFace) {
  auto dash = MustCompile("-");
  EXPECT_THAT(SplitWithRegex(*dash, SplitBehavior::kRemoved, false, "the-final--countdown"),
              ElementsAre("the", "final", "countdown"));
  EXPECT_THAT(SplitWithRegex(*dash, SplitBehavior::kIsolated, false, "the-final--countdown"),
              ElementsAre("the", "-", "final", "-", "-", "countdown"));
  EXPECT_THAT(
      SplitWithRegex(*dash, SplitBehavior::kMergedWithPrevious, false, "the-final--countdown"),
      ElementsAre("the-", "final-", "-", "countdown"));
  EXPECT_THAT(SplitWithRegex(*dash, SplitBehavior::kMergedWithNext, false, "the-final--countdown"),
              ElementsAre("the", "-final", "-", "-countdown"));
  EXPECT_THAT(SplitWithRegex(*dash, SplitBehavior::kContiguous, false, "the-final--countdown"),
              ElementsAre("the", "-", "final", "--", "countdown"));
}

TEST(SplitWithRegex, InvertSplitsOnTheGaps) {
  auto word = MustCompile("\\p{L}+");
  EXPECT_THAT(SplitWithRegex(*word, SplitBehavior::kRemoved, true, "ab, cd"),
              ElementsAre("ab", "cd"));
}

TEST(Gpt2Pattern, SplitsWordsSpacesAndContractions) {
  auto gpt2 = MustCompile(kGpt2Pattern);
  EXPECT_THAT(SplitWithRegex(*gpt2, SplitBehavior::kIsolated, false, "I'll  go 123!"),
              ElementsAre("I", "'ll", " ", " go", " 123", "!"));
}

TEST(Regex, WhitespaceIsUnicodeWhiteSpaceNotPcreSpace) {
  auto space = MustCompile("\\s+");
  EXPECT_EQ(space->FindAll("a\u3000\u00a0b").size(), 1u);
  EXPECT_TRUE(space->FindAll("a\u180eb").empty());  // Mongolian vowel separator: not White_Space
  EXPECT_EQ(RewriteWhitespaceClasses("[^\\s]"),
            std::string("[^") +
                "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}"
                "\\x{2029}\\x{202f}\\x{205f}\\x{3000}]");
}

TEST(Regex, EmptyOrBrokenPatternsAreErrors) {
  EXPECT_FALSE(Regex::Create("", false).ok());
  EXPECT_FALSE(Regex::Create("(unclosed", false).ok());
  EXPECT_TRUE(Regex::Create("(unclosed", true).ok());  // literal
}

TEST(ByteLevelPreTokenizer, AddsPrefixSpaceAndRespellsBytes) {
  ByteLevelOptions options;
  options.add_prefix_space = true;
  absl::StatusOr<std::unique_ptr<PreTokenizer>> byte_level = CreateByteLevelPreTokenizer(options);
  ASSERT_TRUE(byte_level.ok());
  std::vector<std::string> pieces = {"hi there"};
  (*byte_level)->Apply(&pieces);
  EXPECT_THAT(pieces, ElementsAre("Ġhi", "Ġthere"));
}

}  // namespace
}  // namespace r1rl::tokenizer
