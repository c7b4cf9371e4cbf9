#include "lib/tokenizer/utf8.h"

#include "gtest/gtest.h"
#include "lib/tokenizer/byte_level.h"

namespace r1rl::tokenizer {
namespace {

constexpr const char* kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsRecognised) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("你好 😀 é"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xE4\xBD"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
}

// Each maximal invalid subsequence becomes one U+FFFD, like Rust's from_utf8_lossy.
TEST(Utf8, LossyReplacesMaximalInvalidSubsequences) {
  EXPECT_EQ(Utf8Lossy("a\xE4\xBD"
                      "b"),
            std::string("a") + kFffd + "b");
  EXPECT_EQ(Utf8Lossy("\xE4\xBD\xE4\xBD"), std::string(kFffd) + kFffd);
  EXPECT_EQ(Utf8Lossy("\xFF\xFE"), std::string(kFffd) + kFffd);
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(Utf8Lossy("\xE0\x80"), std::string(kFffd) + kFffd);  // E0 80: 80 not allowed
  EXPECT_EQ(Utf8Lossy("ok"), "ok");
}

TEST(ByteLevel, SpaceIsGAndEveryByteRoundTrips) {
  std::string spelled;
  AppendByteLevel(" ", &spelled);
  EXPECT_EQ(spelled, "Ġ");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string mapped;
  AppendByteLevel(all, &mapped);
  EXPECT_EQ(ByteLevelTokenBytes(mapped), all);
}

TEST(ByteLevel, TokensWithUnmappedCharactersPassThrough) {
  EXPECT_EQ(ByteLevelTokenBytes("<|im_end|>"), "<|im_end|>");
  EXPECT_EQ(ByteLevelTokenBytes("中"), "中");
}

}  // namespace
}  // namespace r1rl::tokenizer
