// Added tokens of a tokenizer.json ("added_tokens"): strings such as "<|im_end|>" that are
// cut out of the text before normalization and pre-tokenization and map to one id each.
//
// Matching follows Hugging Face's AddedVocabulary: leftmost-longest matches of all tokens;
// `single_word` tokens only match with no word character (\w) touching either side;
// `lstrip` / `rstrip` tokens absorb the whitespace on their left / right. Tokens with
// `normalized: false` are matched in the raw text, the others in the normalized text
// (against their normalized content).
//
// Thread-safety: immutable after construction; all methods may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_ADDED_VOCABULARY_H_
#define R1RL_LIB_TOKENIZER_ADDED_VOCABULARY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace r1rl::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;  // non-empty UTF-8
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// A run of text: either one added token (`id` set, `text` the matched bytes including
// stripped whitespace) or plain text (`id` unset).
struct Segment {
  std::string text;
  std::optional<int32_t> id;
};

class AddedVocabulary {
 public:
  // `normalized_contents[i]` is the normalized form of tokens[i].content (used for tokens
  // with normalized == true). Precondition: contents non-empty, sizes equal.
  AddedVocabulary(std::vector<AddedToken> tokens,
                  const std::vector<std::string>& normalized_contents);

  // Splits `text` on the tokens with normalized == `normalized_set`, appending the
  // segments (in order, covering `text`, none empty) to `out`.
  void Split(std::string_view text, bool normalized_set, std::vector<Segment>* out) const;

  const AddedToken* FindById(int32_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie over one set of patterns, for leftmost-longest matching.
  struct Trie {
    struct Node {
      absl::flat_hash_map<unsigned char, int32_t> children;
      int32_t token = -1;  // index into tokens_ of the pattern ending here
    };
    std::vector<Node> nodes{Node()};
    bool first_byte[256] = {};
    void Insert(std::string_view pattern, int32_t token);
    // Length of the longest pattern starting at text[pos], and its token (-1: none).
    size_t LongestAt(std::string_view text, size_t pos, int32_t* token) const;
  };

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> by_id_;
  absl::flat_hash_map<std::string, size_t> by_content_;
  Trie raw_trie_;
  Trie normalized_trie_;
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_ADDED_VOCABULARY_H_
