// The public sets in ../shared/data load under their own field names; bad rows name the line.
#include "lib/eval/eval_set.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace r1rl::eval {
namespace {

std::string SharedData(const std::string& relative) {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/../shared/data/" + relative;
}

TEST(EvalSet, LoadsTheRealSets) {
  auto math = LoadEvalSet(SharedData("math500/test.jsonl"));
  ASSERT_TRUE(math.ok()) << math.status();
  EXPECT_EQ(math->problems.size(), 500u);
  EXPECT_TRUE(math->has_subjects);
  EXPECT_TRUE(math->has_levels);
  EXPECT_EQ(math->problems[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ(math->problems[0].subject, "Precalculus");
  EXPECT_EQ(math->problems[0].level, "2");
  EXPECT_EQ(math->problems[0].id, "test/precalculus/807.json");

  auto gsm = LoadEvalSet(SharedData("gsm8k/test.jsonl"));
  ASSERT_TRUE(gsm.ok()) << gsm.status();
  EXPECT_EQ(gsm->problems.size(), 1319u);
  EXPECT_EQ(gsm->problems[0].answer, "18");  // "#### 18" at the end of the worked solution
  EXPECT_FALSE(gsm->has_subjects);

  auto aime = LoadEvalSet(SharedData("aime24/test.jsonl"));
  ASSERT_TRUE(aime.ok()) << aime.status();
  EXPECT_EQ(aime->problems.size(), 30u);
  EXPECT_EQ(aime->problems[0].id, "60");

  auto amc = LoadEvalSet(SharedData("amc23/test.jsonl"));
  ASSERT_TRUE(amc.ok()) << amc.status();
  EXPECT_EQ(amc->problems.size(), 40u);
  EXPECT_EQ(amc->problems[0].answer, "27");  // 27.0 in the file
}

TEST(EvalSet, ReadsR1rlPromptRowsAndNumbers) {
  auto s = ParseEvalSet(
      "{\"prompt\": \"1+1=\", \"reward\": {\"kind\": \"math\", \"answer\": \"2\"}}\n"
      "\n"
      "{\"problem\": \"x?\", \"answer\": 0.5, \"level\": \"Level 4\", \"type\": \"Algebra\"}\n",
      "rows.jsonl");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->problems.size(), 2u);
  EXPECT_EQ(s->problems[0].answer, "2");
  EXPECT_EQ(s->problems[0].id, "rows.jsonl:1");
  EXPECT_EQ(s->problems[1].answer, "0.5");
  EXPECT_EQ(s->problems[1].level, "4");
  EXPECT_EQ(s->problems[1].subject, "Algebra");
}

TEST(EvalSet, BadRowsNameTheLine) {
  auto no_answer =
      ParseEvalSet("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\"}\n", "x.jsonl");
  ASSERT_FALSE(no_answer.ok());
  EXPECT_NE(no_answer.status().message().find("x.jsonl:2: no reference answer"), std::string::npos);
  auto junk = ParseEvalSet("not json\n", "y.jsonl");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("y.jsonl:1: not a JSON object"), std::string::npos);
  auto no_question = ParseEvalSet("{\"answer\": \"1\"}\n", "z.jsonl");
  EXPECT_NE(no_question.status().message().find("z.jsonl:1: no question"), std::string::npos);
  EXPECT_FALSE(ParseEvalSet("\n\n", "empty.jsonl").ok());
  EXPECT_EQ(LoadEvalSet("/nonexistent/set.jsonl").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace r1rl::eval
