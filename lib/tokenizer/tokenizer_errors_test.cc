// Malformed tokenizer.json files give an InvalidArgument status naming the source and the
// field -- never a crash.
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A valid two-letter byte-level tokenizer; tests break one part of it.
std::string TinyJson(const std::string& model_extra = "",
                     const std::string& vocab = R"({"a": 0, "b": 1, "ab": 2})",
                     const std::string& merges = R"(["a b"])", const std::string& added = "[]",
                     const std::string& rest = "") {
  return R"({"added_tokens": )" + added + rest + R"(, "model": {"type": "BPE", "vocab": )" + vocab +
         R"(, "merges": )" + merges + model_extra + "}}";
}

absl::Status ParseStatus(const std::string& json) {
  return ParseTokenizerJson(json, "tiny.json").status();
}

MATCHER_P(IsErrorAbout, field, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         absl::StrContains(arg.message(), "tiny.json") && absl::StrContains(arg.message(), field);
}

TEST(TokenizerJsonErrors, TheValidBaseFileLoads) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = ParseTokenizerJson(TinyJson(), "t");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->EncodeNoSpecial("abba"), (std::vector<int32_t>{2, 1, 0}));
}

TEST(TokenizerJsonErrors, NotJsonIsReported) {
  EXPECT_THAT(ParseStatus("{not json"), IsErrorAbout("not valid JSON"));
  EXPECT_THAT(ParseStatus(""), IsErrorAbout("not valid JSON"));
  EXPECT_THAT(ParseStatus("[1, 2]"), IsErrorAbout("expected a JSON object"));
}

TEST(TokenizerJsonErrors, MissingModelIsReported) {
  EXPECT_THAT(ParseStatus(R"({"added_tokens": []})"), IsErrorAbout("tokenizer.model: missing"));
  EXPECT_THAT(ParseStatus(R"({"model": {"type": "BPE"}})"), IsErrorAbout("model.vocab: missing"));
}

TEST(TokenizerJsonErrors, OtherModelTypesAreRejected) {
  EXPECT_THAT(ParseStatus(R"({"model": {"type": "WordPiece", "vocab": {}}})"),
              AllOf(IsErrorAbout("model.type"), IsErrorAbout("WordPiece")));
  EXPECT_THAT(ParseStatus(R"({"model": {"type": 7, "vocab": {}}})"), IsErrorAbout("model.type"));
}

TEST(TokenizerJsonErrors, MergeWithAnUnknownTokenIsRejected) {
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a c"])")),
              AllOf(IsErrorAbout("model.merges[0]"), IsErrorAbout("\"c\"")));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1})", R"([["a", "b"]])")),
              AllOf(IsErrorAbout("model.merges[0]"), IsErrorAbout("\"ab\"")));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b c"])")),
              IsErrorAbout("model.merges[0]"));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"([["a"]])")),
              IsErrorAbout("model.merges[0]"));
}

TEST(TokenizerJsonErrors, VocabIdsMustBeUniqueAndInRange) {
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 0, "ab": 2})")),
              AllOf(IsErrorAbout("model.vocab"), IsErrorAbout("id 0")));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 7})")),
              AllOf(IsErrorAbout("model.vocab"), IsErrorAbout("out of range")));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": -1, "b": 1, "ab": 2})")),
              IsErrorAbout("model.vocab[\"a\"]"));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": "zero", "b": 1, "ab": 2})")),
              IsErrorAbout("model.vocab[\"a\"]"));
}

TEST(TokenizerJsonErrors, AddedTokenConflictsAreRejected) {
  // Id 1 is "b" in the vocab.
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b"])",
                                   R"([{"id": 1, "content": "<s>", "special": true}])")),
              AllOf(IsErrorAbout("added_tokens[0].id"), IsErrorAbout("\"b\"")));
  EXPECT_THAT(
      ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b"])",
                           R"([{"id": 3, "content": "<s>"}, {"id": 3, "content": "<e>"}])")),
      IsErrorAbout("added_tokens[1].id"));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b"])",
                                   R"([{"id": 3, "content": ""}])")),
              IsErrorAbout("added_tokens[0].content"));
  EXPECT_THAT(ParseStatus(TinyJson("", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b"])",
                                   R"([{"content": "<s>"}])")),
              IsErrorAbout("added_tokens[0].id"));
}

TEST(TokenizerJsonErrors, UnsupportedPipelinePartsAreNamed) {
  const std::string vocab = R"({"a": 0, "b": 1, "ab": 2})";
  EXPECT_THAT(
      ParseStatus(TinyJson("", vocab, "[]", "[]", R"(, "normalizer": {"type": "Lowercase"})")),
      AllOf(IsErrorAbout("normalizer.type"), IsErrorAbout("Lowercase")));
  EXPECT_THAT(
      ParseStatus(TinyJson("", vocab, "[]", "[]", R"(, "pre_tokenizer": {"type": "Whitespace"})")),
      AllOf(IsErrorAbout("pre_tokenizer.type"), IsErrorAbout("Whitespace")));
  EXPECT_THAT(ParseStatus(TinyJson(
                  "", vocab, "[]", "[]",
                  R"(, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [)"
                  R"({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}]})")),
              IsErrorAbout("pre_tokenizer.pretokenizers[0].pattern"));
  EXPECT_THAT(
      ParseStatus(TinyJson(
          "", vocab, "[]", "[]",
          R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"})")),
      IsErrorAbout("pre_tokenizer.behavior"));
  EXPECT_THAT(ParseStatus(TinyJson("", vocab, "[]", "[]", R"(, "decoder": {"type": "WordPiece"})")),
              IsErrorAbout("decoder.type"));
  EXPECT_THAT(
      ParseStatus(TinyJson("", vocab, "[]", "[]", R"(, "post_processor": {"type": "Mystery"})")),
      IsErrorAbout("post_processor.type"));
  EXPECT_THAT(ParseStatus(TinyJson(R"(, "dropout": 0.1)", vocab, "[]")),
              IsErrorAbout("model.dropout"));
  EXPECT_THAT(ParseStatus(TinyJson(R"(, "unk_token": "<unk>")", vocab, "[]")),
              IsErrorAbout("model.unk_token"));
}

TEST(TokenizerJsonErrors, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer("/nonexistent/tok.json");
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("/nonexistent/tok.json"));
}

TEST(TokenizerJsonErrors, TemplatePostProcessorAddsBosAndEos) {
  const std::string json = TinyJson(
      "", R"({"a": 0, "b": 1, "ab": 2, "<s>": 3, "</s>": 4})", R"(["a b"])",
      R"([{"id": 3, "content": "<s>", "special": true}, {"id": 4, "content": "</s>", "special": true}])",
      R"(, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [4], "tokens": ["</s>"]}}})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = ParseTokenizerJson(json, "t");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("ab"), (std::vector<int32_t>{3, 2, 4}));
  EXPECT_EQ((*tokenizer)->EncodeNoSpecial("ab"), (std::vector<int32_t>{2}));
}

// Found by tokenizer_json_fuzz: a template id naming no token made Encode emit ids that
// Decode then rejected.
TEST(TokenizerJsonErrors, TemplateIdsMustBeTokens) {
  const std::string json = TinyJson(
      "", R"({"a": 0, "b": 1, "ab": 2})", R"(["a b"])", "[]",
      R"(, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [50], "tokens": ["<s>"]}}})");
  EXPECT_THAT(ParseStatus(json), AllOf(IsErrorAbout("post_processor"), IsErrorAbout("50")));
}

}  // namespace
}  // namespace r1rl::tokenizer
