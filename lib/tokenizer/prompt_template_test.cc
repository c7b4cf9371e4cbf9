#include "lib/tokenizer/prompt_template.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gtest/gtest.h"
#include "lib/tokenizer/test_data.h"

namespace r1rl::tokenizer {
namespace {

TEST(PromptTemplate, NamesParseAndRoundTrip) {
  for (PromptFormat format : {PromptFormat::kR1Zero, PromptFormat::kQwenChat, PromptFormat::kRaw}) {
    absl::StatusOr<PromptFormat> parsed = ParsePromptFormat(PromptFormatName(format));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_FALSE(ParsePromptFormat("chatml").ok());
  EXPECT_FALSE(ParsePromptFormat("").ok());
}

TEST(PromptTemplate, R1ZeroIsExact) {
  EXPECT_EQ(RenderPrompt(PromptFormat::kR1Zero, "What is 2+2?"),
            "A conversation between User and Assistant. The user asks a question, and the "
            "Assistant solves it. The assistant first thinks about the reasoning process in the "
            "mind and then provides the user with the answer. The reasoning process and answer "
            "are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
            "i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
            "User: What is 2+2?. Assistant:");
}

TEST(PromptTemplate, RawIsThePromptItself) {
  EXPECT_EQ(RenderPrompt(PromptFormat::kRaw, "x\ny", "ignored"), "x\ny");
}

// Expected strings were rendered from Qwen2.5's tokenizer_config.json chat_template with
// jinja2 (tools/fixtures/make_tokenizer_fixtures.py).
TEST(PromptTemplate, QwenChatMatchesTheJinjaTemplate) {
  std::ifstream file(testing::SourcePath("tests/fixtures/tokenizer/prompt_templates.jsonl"));
  ASSERT_TRUE(file.good());
  std::string line;
  int cases = 0;
  while (std::getline(file, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    EXPECT_EQ(RenderPrompt(PromptFormat::kQwenChat, row["user"].get<std::string>(),
                           row["system"].get<std::string>()),
              row["rendered"].get<std::string>());
    ++cases;
  }
  EXPECT_GE(cases, 4);
}

TEST(PromptTemplate, QwenChatEncodesWithImTokens) {
  const Tokenizer* qwen = testing::RealTokenizer("qwen2.5");
  ASSERT_NE(qwen, nullptr);
  const std::vector<int32_t> ids = qwen->Encode(RenderPrompt(PromptFormat::kQwenChat, "Hi"));
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 151644);  // <|im_start|>
  EXPECT_EQ(ids.back(), 198);      // "\n" after "assistant"
}

}  // namespace
}  // namespace r1rl::tokenizer
