// The format and language-consistency rewards.
#include "gtest/gtest.h"
#include "lib/rewards/format_reward.h"
#include "lib/rewards/language_reward.h"

namespace r1rl::reward {
namespace {

TEST(FormatReward, R1ZeroStrict) {
  auto score = [](const char* s) { return ScoreFormat(s, FormatStyle::kR1Zero, false).score; };
  EXPECT_EQ(score("<think>a</think><answer>1</answer>"), 1.0);
  EXPECT_EQ(score("  <think>\na\n</think>\n<answer> 1 </answer>\n"), 1.0);
  EXPECT_EQ(score("<think>a</think>so<answer>1</answer>"), 0.0);     // text between
  EXPECT_EQ(score("<think>a</think><answer>1</answer> more"), 0.0);  // text after
  EXPECT_EQ(score("x<think>a</think><answer>1</answer>"), 0.0);      // text before
  EXPECT_EQ(score("<think>a<think>b</think><answer>1</answer>"), 0.0);
  EXPECT_EQ(score("<answer>1</answer><think>a</think>"), 0.0);
  EXPECT_EQ(score("<think>a</think>"), 0.0);
  EXPECT_EQ(score(""), 0.0);
  EXPECT_EQ(ScoreFormat("<think>a</think>", FormatStyle::kR1Zero, false).reason,
            "<answer> must follow </think> (only whitespace between)");
}

TEST(FormatReward, R1ZeroPartialCredit) {
  auto score = [](const char* s) { return ScoreFormat(s, FormatStyle::kR1Zero, true).score; };
  EXPECT_EQ(score("<think>a</think><answer>1</answer>"), 1.0);
  EXPECT_EQ(score("<think>a</think>"), 0.5);
  EXPECT_EQ(score("<think>a</think><answer>1</answer> more"), 0.75);
  EXPECT_EQ(score("plain text"), 0.0);
}

TEST(FormatReward, R1Chat) {
  auto score = [](const char* s) { return ScoreFormat(s, FormatStyle::kR1Chat, false).score; };
  EXPECT_EQ(score("<think>a</think>The answer is 4."), 1.0);
  EXPECT_EQ(score("a</think>The answer is 4."), 1.0);  // <think> was in the prompt
  EXPECT_EQ(score("<think>a</think>"), 0.0);           // no answer
  EXPECT_EQ(score("<think>a</think>b<think>c"), 0.0);
  EXPECT_EQ(score("no tags"), 0.0);
  EXPECT_NEAR(ScoreFormat("<think>a</think>", FormatStyle::kR1Chat, true).score, 2.0 / 3, 1e-12);
}

TEST(FormatReward, ChainOfThought) {
  EXPECT_EQ(ChainOfThought("<think>abc</think><answer>1</answer>"), "abc");
  EXPECT_EQ(ChainOfThought("abc</think>x"), "abc");
  EXPECT_EQ(ChainOfThought("<think>abc"), "abc");
  EXPECT_EQ(ChainOfThought("plain"), "plain");
}

TEST(LanguageReward, ShareOfWordsInTheTargetScript) {
  EXPECT_DOUBLE_EQ(*LanguageConsistency("Let me think step by step: 2+2=4.", "en"), 1.0);
  // 3 Latin words and two Han characters.
  EXPECT_DOUBLE_EQ(*LanguageConsistency("Let me \u60f3\u60f3 step", "en"), 0.6);
  EXPECT_DOUBLE_EQ(*LanguageConsistency("Let me \u60f3\u60f3 step", "zh"), 0.4);
  EXPECT_DOUBLE_EQ(*LanguageConsistency("\u041f\u0440\u0438\u0432\u0435\u0442 world", "ru"), 0.5);
  EXPECT_DOUBLE_EQ(*LanguageConsistency("d\u00e9j\u00e0 vu, na\u00efve", "fr"),
                   1.0);                                             // accents are Latin
  EXPECT_DOUBLE_EQ(*LanguageConsistency("12 + 7 = 19", "en"), 1.0);  // no words
  EXPECT_DOUBLE_EQ(*LanguageConsistency("abc", "Latin"), 1.0);
  auto bad = LanguageConsistency("abc", "klingon");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("klingon"), std::string::npos);
  // Broken UTF-8 is skipped, never a crash.
  EXPECT_DOUBLE_EQ(*LanguageConsistency(std::string("ok \xff\xfe ok"), "en"), 1.0);
}

}  // namespace
}  // namespace r1rl::reward
