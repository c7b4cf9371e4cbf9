#include "lib/tokenizer/added_vocabulary.h"

#include "gtest/gtest.h"

namespace r1rl::tokenizer {
namespace {

std::string Render(const AddedVocabulary& vocab, std::string_view text) {
  std::vector<Segment> segments;
  vocab.Split(text, /*normalized_set=*/false, &segments);
  std::string out;
  for (const Segment& s : segments) {
    out += s.id.has_value() ? "[" + std::to_string(*s.id) + ":" + s.text + "]" : "(" + s.text + ")";
  }
  return out;
}

AddedToken Token(int32_t id, std::string content, bool single_word = false, bool lstrip = false,
                 bool rstrip = false, bool normalized = false) {
  AddedToken token;
  token.id = id;
  token.content = std::move(content);
  token.single_word = single_word;
  token.lstrip = lstrip;
  token.rstrip = rstrip;
  token.normalized = normalized;
  return token;
}

AddedVocabulary Vocab(std::vector<AddedToken> tokens) {
  std::vector<std::string> contents;
  for (const AddedToken& t : tokens) contents.push_back(t.content);
  return AddedVocabulary(std::move(tokens), contents);
}

TEST(AddedVocabulary, LongestMatchWinsAtTheLeftmostPosition) {
  AddedVocabulary vocab = Vocab({Token(1, "<a>"), Token(2, "<a><b>")});
  EXPECT_EQ(Render(vocab, "x<a><b>y<a>"), "(x)[2:<a><b>](y)[1:<a>]");
}

TEST(AddedVocabulary, StripTokensAbsorbNeighbouringWhitespace) {
  AddedVocabulary vocab = Vocab({Token(7, "<m>", false, /*lstrip=*/true, /*rstrip=*/true)});
  EXPECT_EQ(Render(vocab, "a  <m>  b"), "(a)[7:  <m>  ](b)");
}

TEST(AddedVocabulary, SingleWordTokensDoNotMatchInsideWords) {
  AddedVocabulary vocab = Vocab({Token(3, "cat", /*single_word=*/true)});
  EXPECT_EQ(Render(vocab, "a cat, concatenate"), "(a )[3:cat](, concatenate)");
}

TEST(AddedVocabulary, NormalizedTokensOnlyMatchInTheNormalizedPass) {
  AddedVocabulary vocab = Vocab({Token(4, "<n>", false, false, false, /*normalized=*/true)});
  EXPECT_EQ(Render(vocab, "x<n>"), "(x<n>)");
  std::vector<Segment> segments;
  vocab.Split("x<n>", /*normalized_set=*/true, &segments);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[1].id, 4);
}

}  // namespace
}  // namespace r1rl::tokenizer
