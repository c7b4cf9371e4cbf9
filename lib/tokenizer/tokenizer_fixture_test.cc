// Every fixture text (tests/fixtures/tokenizer/<name>.jsonl, written by the Python
// `tokenizers` library; see tools/fixtures/make_tokenizer_fixtures.py) must encode to the
// same ids and decode to the same text.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/tokenizer/normalizer.h"
#include "lib/tokenizer/test_data.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer {
namespace {

using ::r1rl::tokenizer::testing::RealTokenizer;
using ::r1rl::tokenizer::testing::SourcePath;

struct FixtureCase {
  std::string text;
  std::vector<int32_t> ids;
  std::string decoded;
};

std::vector<FixtureCase> ReadFixture(const std::string& name) {
  std::ifstream file(SourcePath("tests/fixtures/tokenizer/" + name + ".jsonl"));
  EXPECT_TRUE(file.good()) << "missing fixture for " << name;
  std::vector<FixtureCase> cases;
  std::string line;
  size_t expected = 0;
  while (std::getline(file, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    if (row.contains("count")) {
      expected = row["count"].get<size_t>();
      continue;
    }
    cases.push_back({row["text"].get<std::string>(), row["ids"].get<std::vector<int32_t>>(),
                     row["decoded"].get<std::string>()});
  }
  EXPECT_EQ(cases.size(), expected);
  return cases;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += std::to_string(id) + " ";
  return out;
}

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, EncodeMatchesHuggingFaceOnEveryFixtureText) {
  const Tokenizer* tokenizer = RealTokenizer(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<FixtureCase> cases = ReadFixture(GetParam());
  ASSERT_GE(cases.size(), GetParam().rfind("tiny_", 0) == 0 ? 100u : 300u);
  int mismatches = 0;
  for (const FixtureCase& c : cases) {
    const std::vector<int32_t> ids = tokenizer->Encode(c.text);
    if (ids != c.ids && ++mismatches <= 10) {
      ADD_FAILURE() << "text: \"" << c.text << "\"\n  want: " << Join(c.ids)
                    << "\n  got:  " << Join(ids);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size();
}

TEST_P(FixtureTest, DecodeMatchesHuggingFaceOnEveryFixture) {
  const Tokenizer* tokenizer = RealTokenizer(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  for (const FixtureCase& c : ReadFixture(GetParam())) {
    absl::StatusOr<std::string> decoded = tokenizer->Decode(c.ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, c.decoded) << "ids: " << Join(c.ids);
  }
}

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, FixtureTest,
                         ::testing::Values("qwen2.5", "smollm3", "gpt2", "tiny_bytelevel",
                                           "tiny_char"),
                         ParamName);

class RoundTripTest : public ::testing::TestWithParam<std::string> {};

// Byte-level BPE loses nothing: decoding gives back the (normalized) text. Qwen2.5's
// normalizer is NFC, so its round trip gives the NFC form of the text.
TEST_P(RoundTripTest, DecodeOfEncodeGivesBackTheNormalizedText) {
  const Tokenizer* tokenizer = RealTokenizer(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  absl::StatusOr<std::unique_ptr<Normalizer>> nfc = Normalizer::Create({NormalizationForm::kNfc});
  ASSERT_TRUE(nfc.ok());
  for (const FixtureCase& c : ReadFixture(GetParam())) {
    absl::StatusOr<std::string> decoded = tokenizer->Decode(tokenizer->Encode(c.text));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const std::string want = GetParam() == "qwen2.5" ? (*nfc)->Normalize(c.text) : c.text;
    EXPECT_EQ(*decoded, want);
  }
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, RoundTripTest,
                         ::testing::Values("qwen2.5", "smollm3", "gpt2"), ParamName);

}  // namespace
}  // namespace r1rl::tokenizer
