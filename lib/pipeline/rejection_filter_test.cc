// Each of rejection sampling's rules, alone: a response failing one rule is rejected for
// that rule and no other; a clean one is kept.
#include "lib/pipeline/rejection_filter.h"

#include "gtest/gtest.h"

namespace r1rl::pipeline {
namespace {

ResponseFacts Good() {
  ResponseFacts f;
  f.accuracy = 1.0;
  f.format = 1.0;
  f.language = 1.0;
  return f;
}

const char kClean[] = "<think>7+5=12, carry 1.\n\nThen 4+8+1=13.</think><answer>632</answer>";

std::vector<std::string> Reasons(std::string_view text, const ResponseFacts& f,
                                 RejectionFilterOptions o = {}) {
  return RejectionFilter(o).Judge(text, f).reasons;
}

TEST(RejectionFilter, KeepsACleanCorrectResponse) {
  const Verdict v = RejectionFilter({}).Judge(kClean, Good());
  EXPECT_TRUE(v.kept);
  EXPECT_TRUE(v.reasons.empty());
}

TEST(RejectionFilter, EachRuleAlone) {
  ResponseFacts f = Good();
  f.accuracy = 0.0;
  EXPECT_EQ(Reasons(kClean, f), std::vector<std::string>{"wrong_answer"});
  f = Good();
  f.format = 0.5;
  EXPECT_EQ(Reasons(kClean, f), std::vector<std::string>{"bad_format"});
  f = Good();
  f.truncated = true;
  EXPECT_EQ(Reasons(kClean, f), std::vector<std::string>{"truncated"});
  f = Good();
  f.language = 0.6;  // "Let me 想一想 step": 3 of 5 words
  EXPECT_EQ(Reasons(kClean, f), std::vector<std::string>{"mixed_language"});

  RejectionFilterOptions o;
  o.max_paragraph_chars = 80;
  const std::string overlong = "<think>" + std::string(100, 'a') + "</think><answer>1</answer>";
  EXPECT_EQ(Reasons(overlong, Good(), o), std::vector<std::string>{"overlong_paragraph"});
  // The same length split into paragraphs passes.
  const std::string split = "<think>" + std::string(50, 'a') + "\n\n" + std::string(50, 'b') +
                            "</think><answer>1</answer>";
  EXPECT_TRUE(Reasons(split, Good(), o).empty());

  const std::string code =
      "<think>Let me compute.\n```python\nprint(1+1)\n```\n</think><answer>2</answer>";
  EXPECT_EQ(Reasons(code, Good()), std::vector<std::string>{"code_block"});
  f = Good();
  f.task_has_code = true;  // a coding task may show code
  EXPECT_TRUE(Reasons(code, f).empty());

  const std::string repeated =
      "<think>Start.\n\nWe add the units column first.\n\nWe add the units column "
      "first.\n\n</think><answer>2</answer>";
  EXPECT_EQ(Reasons(repeated, Good()), std::vector<std::string>{"repeated_paragraph"});
  // Short repeated lines ("Step 1.") are not a repetition loop.
  EXPECT_TRUE(Reasons("<think>Ok.\n\nOk.\n\n</think><answer>2</answer>", Good()).empty());
}

TEST(RejectionFilter, ListsEveryFailedRuleInOrder) {
  ResponseFacts f;
  f.truncated = true;
  const Verdict v = RejectionFilter({}).Judge("```\nx\n```", f);
  EXPECT_FALSE(v.kept);
  EXPECT_EQ(v.reasons,
            (std::vector<std::string>{"wrong_answer", "bad_format", "truncated", "code_block"}));
}

TEST(RejectionFilter, Helpers) {
  EXPECT_EQ(Paragraphs("a\nb\n\n \n c \n\n"), (std::vector<std::string>{"a\nb", "c"}));
  EXPECT_TRUE(HasCodeBlock("text\n   ```cpp\nint x;\n```"));
  EXPECT_FALSE(HasCodeBlock("inline `code` only"));
  EXPECT_EQ(DedupKey("  a \n\n b\tc "), "a b c");
}

}  // namespace
}  // namespace r1rl::pipeline
