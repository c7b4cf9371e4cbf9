// pass@1, pass@k and majority voting against hand-computed cases.
#include "lib/eval/sample_metrics.h"

#include "gtest/gtest.h"

namespace r1rl::eval {
namespace {

bool SameText(const std::string& a, const std::string& b) { return a == b; }

TEST(PassAt1, IsTheMeanCorrectness) {
  EXPECT_DOUBLE_EQ(PassAt1({true, false, false, true}), 0.5);
  EXPECT_DOUBLE_EQ(PassAt1({false, false}), 0.0);
  EXPECT_DOUBLE_EQ(PassAt1({}), 0.0);
}

TEST(PassAtK, MatchesTheBinomialFormula) {
  // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
  EXPECT_NEAR(PassAtK(5, 2, 2), 0.7, 1e-12);
  // n=16, c=4, k=1 is pass@1: 4/16.
  EXPECT_NEAR(PassAtK(16, 4, 1), 0.25, 1e-12);
  // n=16, c=4, k=8: 1 - C(12,8)/C(16,8) = 1 - 495/12870.
  EXPECT_NEAR(PassAtK(16, 4, 8), 1.0 - 495.0 / 12870.0, 1e-12);
  // More samples drawn than wrong ones: some correct one is always drawn.
  EXPECT_DOUBLE_EQ(PassAtK(16, 10, 7), 1.0);
  EXPECT_DOUBLE_EQ(PassAtK(16, 0, 16), 0.0);  // all wrong
  EXPECT_DOUBLE_EQ(PassAtK(16, 16, 1), 1.0);
  EXPECT_NEAR(PassAtK(4, 1, 9), 1.0, 1e-12);  // k > n clamps to n
  EXPECT_DOUBLE_EQ(PassAtK(0, 0, 1), 0.0);
  // Large n: no overflow, still the formula (n=1000, c=1, k=10: 10/1000).
  EXPECT_NEAR(PassAtK(1000, 1, 10), 0.01, 1e-12);
}

TEST(MajorityVote, TheMostFrequentAnswerWins) {
  Vote v = MajorityVote({"7", "5", "7", "", "7", "5"}, SameText);
  EXPECT_EQ(v.answer, "7");
  EXPECT_EQ(v.votes, 3);
  EXPECT_EQ(v.voters, 5);  // the empty answer does not vote
  EXPECT_EQ(v.groups, 2);
  EXPECT_FALSE(v.tie);
}

TEST(MajorityVote, ATieGoesToTheAnswerSeenFirst) {
  Vote v = MajorityVote({"5", "7", "7", "5"}, SameText);
  EXPECT_EQ(v.answer, "5");
  EXPECT_EQ(v.votes, 2);
  EXPECT_TRUE(v.tie);
  EXPECT_EQ(MajorityVote({"7", "5", "5", "7"}, SameText).answer, "7");
}

TEST(MajorityVote, NoExtractableAnswerMeansNoVote) {
  Vote v = MajorityVote({"", "", ""}, SameText);
  EXPECT_EQ(v.answer, "");
  EXPECT_EQ(v.votes, 0);
  EXPECT_EQ(v.voters, 0);
  EXPECT_EQ(v.groups, 0);
}

TEST(MajorityVote, GroupsByTheGivenEquivalence) {
  // "0.5", "1/2" and "\frac{1}{2}" are one answer to a math judge.
  auto half = [](const std::string& a, const std::string& b) {
    auto is_half = [](const std::string& s) {
      return s == "0.5" || s == "1/2" || s == "\\frac{1}{2}";
    };
    return a == b || (is_half(a) && is_half(b));
  };
  Vote v = MajorityVote({"3", "0.5", "3", "1/2", "\\frac{1}{2}"}, half);
  EXPECT_EQ(v.answer, "0.5");
  EXPECT_EQ(v.votes, 3);
  EXPECT_EQ(v.groups, 2);
}

// cons@k and pass@k of whole problems, computed by hand.
TEST(Consensus, HandComputedProblems) {
  // All wrong: no sample right, the majority wrong; pass@1 0, pass@4 0, cons@4 0.
  std::vector<std::string> answers = {"5", "5", "6", "7"};
  std::vector<bool> correct = {false, false, false, false};
  Vote v = MajorityVote(answers, SameText);
  EXPECT_FALSE(ConsensusCorrect(v, answers, correct));
  EXPECT_DOUBLE_EQ(PassAt1(correct), 0.0);
  EXPECT_DOUBLE_EQ(PassAtK(4, 0, 4), 0.0);

  // A wrong majority beats a right minority: pass@1 0.25, cons@4 0, pass@4 1.
  answers = {"5", "8", "5", "5"};
  correct = {false, true, false, false};
  v = MajorityVote(answers, SameText);
  EXPECT_EQ(v.answer, "5");
  EXPECT_FALSE(ConsensusCorrect(v, answers, correct));
  EXPECT_DOUBLE_EQ(PassAt1(correct), 0.25);
  EXPECT_DOUBLE_EQ(PassAtK(4, 1, 4), 1.0);
  EXPECT_DOUBLE_EQ(PassAtK(4, 1, 2), 0.5);  // 1 - C(3,2)/C(4,2) = 1 - 3/6

  // A tie: the answer seen first wins, right here (8 before 5) and wrong in the other order.
  answers = {"8", "5", "", "5", "8"};
  correct = {true, false, false, false, true};
  v = MajorityVote(answers, SameText);
  EXPECT_TRUE(v.tie);
  EXPECT_TRUE(ConsensusCorrect(v, answers, correct));
  answers = {"5", "8", "", "8", "5"};
  correct = {false, true, false, true, false};
  EXPECT_FALSE(ConsensusCorrect(MajorityVote(answers, SameText), answers, correct));

  // No extractable answer anywhere: no vote, not solved by consensus.
  answers = {"", "", ""};
  correct = {false, false, false};
  v = MajorityVote(answers, SameText);
  EXPECT_FALSE(ConsensusCorrect(v, answers, correct));

  // Grouped by equivalence, the winner's correctness is its first member's.
  auto half = [](const std::string& a, const std::string& b) {
    auto is_half = [](const std::string& s) { return s == "0.5" || s == "1/2"; };
    return a == b || (is_half(a) && is_half(b));
  };
  answers = {"3", "1/2", "0.5", "3", "0.5"};
  correct = {false, true, true, false, true};
  v = MajorityVote(answers, half);
  EXPECT_EQ(v.answer, "1/2");
  EXPECT_TRUE(ConsensusCorrect(v, answers, correct));
}

}  // namespace
}  // namespace r1rl::eval
