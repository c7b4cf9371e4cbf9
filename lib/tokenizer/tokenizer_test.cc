// Behaviour of the real tokenizers beyond the fixtures: published ids, vocabulary queries,
// decode errors and lossy decoding, invalid input, concurrency.
#include "lib/tokenizer/tokenizer.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/tokenizer/test_data.h"

namespace r1rl::tokenizer {
namespace {

using ::r1rl::tokenizer::testing::RealTokenizer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RealTokenizer, HelloWorldHasThePublishedIds) {
  EXPECT_THAT(RealTokenizer("qwen2.5")->Encode("Hello world"), ElementsAre(9707, 1879));
  EXPECT_THAT(RealTokenizer("smollm3")->Encode("Hello world"), ElementsAre(9906, 1917));
  EXPECT_THAT(RealTokenizer("gpt2")->Encode("Hello world"), ElementsAre(15496, 995));
  EXPECT_THAT(RealTokenizer("qwen2.5")->Encode("你好"), ElementsAre(108386));
}

TEST(RealTokenizer, VocabSizeCountsAddedTokens) {
  EXPECT_EQ(RealTokenizer("qwen2.5")->vocab_size(), 151665);
  EXPECT_EQ(RealTokenizer("smollm3")->vocab_size(), 128256);
  EXPECT_EQ(RealTokenizer("gpt2")->vocab_size(), 50257);
}

TEST(RealTokenizer, SpecialTokensAreLookedUpAndFlagged) {
  const Tokenizer* qwen = RealTokenizer("qwen2.5");
  EXPECT_EQ(qwen->TokenToId("<|im_end|>"), 151645);
  EXPECT_EQ(qwen->IdToToken(151645), "<|im_end|>");
  EXPECT_TRUE(qwen->IsSpecial(151645));
  EXPECT_FALSE(qwen->IsSpecial(151657));  // <tool_call> is added but not special
  EXPECT_FALSE(qwen->IsSpecial(9707));
  EXPECT_EQ(qwen->TokenToId("Ġworld"), 1879);
  EXPECT_EQ(qwen->TokenToId("no such token"), std::nullopt);
  EXPECT_EQ(qwen->IdToToken(-1), std::nullopt);
  EXPECT_EQ(qwen->IdToToken(151665), std::nullopt);

  const Tokenizer* smol = RealTokenizer("smollm3");
  EXPECT_EQ(smol->TokenToId("<think>"), 128002);
  EXPECT_FALSE(smol->IsSpecial(128002));
  EXPECT_THAT(smol->Encode("<think>hi</think>"), ElementsAre(128002, 6151, 128003));
}

TEST(RealTokenizer, SpecialTokensInsideTextBecomeTheirIds) {
  EXPECT_THAT(RealTokenizer("qwen2.5")->Encode("hi<|im_end|>x"), ElementsAre(6023, 151645, 87));
  EXPECT_THAT(RealTokenizer("gpt2")->Encode("a <|endoftext|> b"), ElementsAre(64, 220, 50256, 275));
}

TEST(RealTokenizer, DecodeRejectsAnIdOutOfRangeAndNamesIt) {
  for (const char* name : {"qwen2.5", "smollm3", "gpt2"}) {
    const Tokenizer* tokenizer = RealTokenizer(name);
    const int32_t bad = tokenizer->vocab_size();
    absl::StatusOr<std::string> decoded = tokenizer->Decode({1, bad});
    ASSERT_FALSE(decoded.ok()) << name;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(decoded.status().message(), HasSubstr(std::to_string(bad)));
    EXPECT_FALSE(tokenizer->Decode({-5}).ok());
  }
}

TEST(RealTokenizer, DecodeOfHalfACharacterGivesReplacementCharacter) {
  const Tokenizer* qwen = RealTokenizer("qwen2.5");
  // "你" is three bytes, spelled as two byte-level tokens "ä½" + "ł" in Qwen2.5's vocab.
  const std::vector<int32_t> ids = qwen->Encode("你");
  ASSERT_EQ(ids.size(), 1u);
  const std::optional<int32_t> first_byte = qwen->TokenToId("ä");
  ASSERT_TRUE(first_byte.has_value());
  EXPECT_EQ(*qwen->Decode({*first_byte}), "\xEF\xBF\xBD");
  EXPECT_EQ(*qwen->Decode({*first_byte, 151645, *first_byte}),
            "\xEF\xBF\xBD<|im_end|>\xEF\xBF\xBD");
}

TEST(RealTokenizer, InvalidUtf8InputIsEncodedAsReplacementCharacters) {
  const Tokenizer* gpt2 = RealTokenizer("gpt2");
  EXPECT_EQ(gpt2->Encode("a\xFF"
                         "b"),
            gpt2->Encode("a\xEF\xBF\xBD"
                         "b"));
  EXPECT_EQ(gpt2->Encode("\xE4\xBD"), gpt2->Encode("\xEF\xBF\xBD"));
}

TEST(RealTokenizer, EmptyTextHasNoIds) {
  EXPECT_TRUE(RealTokenizer("qwen2.5")->Encode("").empty());
  EXPECT_EQ(*RealTokenizer("qwen2.5")->Decode({}), "");
}

TEST(RealTokenizer, EncodeNoSpecialEqualsEncodeWhenThePostProcessorAddsNothing) {
  for (const char* name : {"qwen2.5", "smollm3", "gpt2"}) {
    const Tokenizer* tokenizer = RealTokenizer(name);
    EXPECT_EQ(tokenizer->Encode("Some text <|im_end|>"),
              tokenizer->EncodeNoSpecial("Some text <|im_end|>"));
  }
}

TEST(RealTokenizer, ConcurrentEncodesAgreeWithSerialOnes) {
  const Tokenizer* qwen = RealTokenizer("qwen2.5");
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("Question " + std::to_string(i * 7919) + ": what is x^" + std::to_string(i) +
                    "? 答案是 " + std::string(i % 5, ' ') + "done.");
  }
  std::vector<std::vector<int32_t>> serial;
  for (const std::string& t : texts) serial.push_back(qwen->Encode(t));
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (qwen->Encode(texts[(i + t * 31) % texts.size()]) !=
              serial[(i + t * 31) % texts.size()]) {
            ++wrong[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(wrong, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace r1rl::tokenizer
