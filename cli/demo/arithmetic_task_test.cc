// The demo task: texts, grading rules and splits.
#include "cli/demo/arithmetic_task.h"

#include <map>
#include <set>

#include "cli/demo/svg_plot.h"
#include "gtest/gtest.h"

namespace r1rl::demo {
namespace {

TEST(ArithmeticTask, ScratchpadTextIsCorrectAndGradesFull) {
  std::mt19937_64 rng(3);
  Problem p{347, 285};
  const std::string text = ArithmeticTask::CompletionText(p, TextKind::kScratchpad, rng);
  EXPECT_EQ(text, "<think>7+5+0=12 4+8+1=13 3+2+1=6</think><answer>632</answer><eos>");
  const std::string without_eos = text.substr(0, text.size() - 5);
  Grade g = GradeCompletion(p, without_eos);
  EXPECT_EQ(g.format, 1.0);
  EXPECT_EQ(g.accuracy, 1.0);
  // A carry out of the hundreds makes a four-digit answer.
  EXPECT_EQ(ArithmeticTask::CompletionText({999, 999}, TextKind::kScratchpad, rng),
            "<think>9+9+0=18 9+9+1=19 9+9+1=19</think><answer>1998</answer><eos>");
}

TEST(ArithmeticTask, GradingRules) {
  Problem p{100, 200};
  EXPECT_EQ(GradeCompletion(p, "<think></think><answer>300</answer>").format, 1.0);
  EXPECT_EQ(GradeCompletion(p, "<think></think><answer>300</answer>").accuracy, 1.0);
  // Wrong answer: format only.
  Grade wrong = GradeCompletion(p, "<think>x</think><answer>301</answer>");
  EXPECT_EQ(wrong.format, 1.0);
  EXPECT_EQ(wrong.accuracy, 0.0);
  // Untagged: nothing, and the extraction failure is reported.
  Grade untagged = GradeCompletion(p, "300");
  EXPECT_EQ(untagged.format + untagged.accuracy, 0.0);
  EXPECT_FALSE(untagged.answer_found);
  // Tags out of order, text after the answer, a tag inside the thought: no format reward.
  EXPECT_EQ(GradeCompletion(p, "<answer>300</answer><think></think>").format, 0.0);
  EXPECT_EQ(GradeCompletion(p, "<think></think><answer>300</answer>3").format, 0.0);
  EXPECT_EQ(GradeCompletion(p, "<think><answer></think><answer>300</answer>").format, 0.0);
  EXPECT_EQ(GradeCompletion(p, "<think></think> <answer>300</answer>").format, 0.0);
  // Accuracy needs the exact digits.
  EXPECT_EQ(GradeCompletion(p, "<think></think><answer>0300</answer>").accuracy, 0.0);
  EXPECT_EQ(GradeCompletion(p, "<think></think><answer></answer>").accuracy, 0.0);
}

TEST(ArithmeticTask, CorruptedScratchpadIsWrongSomewhere) {
  std::mt19937_64 rng(5);
  int wrong_answers = 0;
  for (int i = 0; i < 200; ++i) {
    Problem p{100 + i * 4, 999 - i * 3};
    const std::string text = ArithmeticTask::CompletionText(p, TextKind::kCorruptedScratchpad, rng);
    EXPECT_NE(text, ArithmeticTask::CompletionText(p, TextKind::kScratchpad, rng));
    wrong_answers += GradeCompletion(p, text.substr(0, text.size() - 5)).accuracy == 0.0;
  }
  EXPECT_EQ(wrong_answers, 200);
}

TEST(ArithmeticTask, SplitsAreDisjointFromTraining) {
  ArithmeticTask task(11, 256, 128);
  ASSERT_EQ(task.test().size(), 256u);
  ASSERT_EQ(task.validation().size(), 128u);
  std::set<std::pair<int, int>> held;
  for (const Problem& p : task.test()) held.insert({p.a, p.b});
  for (const Problem& p : task.validation()) EXPECT_TRUE(held.insert({p.a, p.b}).second);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; ++i) {
    Problem p = task.SampleTrain(rng);
    ASSERT_EQ(held.count({p.a, p.b}), 0u);
    ASSERT_GE(p.a, 100);
    ASSERT_LE(p.b, 999);
  }
  // Same seed, same splits.
  ArithmeticTask again(11, 256, 128);
  EXPECT_EQ(again.test()[17].a, task.test()[17].a);
}

TEST(ArithmeticTask, TokenizerRoundTripsEveryKind) {
  auto tok = ArithmeticTask::MakeTokenizer();
  EXPECT_EQ(tok->vocab_size(), 20);
  std::mt19937_64 rng(9);
  for (TextKind kind : {TextKind::kScratchpad, TextKind::kCorruptedScratchpad,
                        TextKind::kDirectAnswer, TextKind::kUntagged}) {
    const std::string text = ArithmeticTask::PromptText({123, 456}) +
                             ArithmeticTask::CompletionText({123, 456}, kind, rng);
    std::vector<int32_t> ids = tok->Encode(text);
    EXPECT_EQ(ids.front(), 1);  // <bos>
    EXPECT_EQ(ids.back(), 2);   // <eos>
    EXPECT_LE(ids.size(), 48u);
    EXPECT_EQ(*tok->Decode(ids), text);
  }
}

TEST(ArithmeticTask, MixtureSharesAreHonoured) {
  std::mt19937_64 rng(11);
  TextMix mix{0.25, 0.05, 0.6};
  std::map<TextKind, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[ArithmeticTask::SampleKind(mix, rng)];
  EXPECT_NEAR(counts[TextKind::kScratchpad] / double(n), 0.25, 0.015);
  EXPECT_NEAR(counts[TextKind::kCorruptedScratchpad] / double(n), 0.05, 0.01);
  EXPECT_NEAR(counts[TextKind::kDirectAnswer] / double(n), 0.6, 0.015);
  EXPECT_NEAR(counts[TextKind::kUntagged] / double(n), 0.1, 0.01);
}

TEST(ArithmeticTask, TellsWhetherTheScratchpadWasWritten) {
  EXPECT_TRUE(WroteScratchpad("<think>7+5+0=12</think><answer>12</answer>"));
  EXPECT_TRUE(WroteScratchpad("<think>7+5+0=12 4+8"));  // truncated while thinking
  EXPECT_FALSE(WroteScratchpad("<think></think><answer>632</answer>"));
  EXPECT_FALSE(WroteScratchpad("632"));
}

TEST(SvgPlot, DrawsEveryPanel) {
  std::string svg =
      RenderSvg({{"reward", {{1, 0.5}, {2, 1.5}}, false}, {"acc", {{0, 0.2}}, true}}, "t");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("reward"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace r1rl::demo
