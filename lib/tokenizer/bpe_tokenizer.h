// BpeTokenizer: the Tokenizer of a tokenizer.json with a BPE model, glued from its parts:
//
//   text -> added tokens cut out (raw) -> normalizer -> added tokens cut out (normalized)
//        -> pre-tokenizer -> BPE model per piece -> post-processor -> ids
//   ids  -> token strings -> decoder -> text
//
// Built by ParseTokenizerJson (tokenizer_json.cc), which turns each JSON section into its
// part. Thread-safety: const methods are safe to call concurrently.
#ifndef R1RL_LIB_TOKENIZER_BPE_TOKENIZER_H_
#define R1RL_LIB_TOKENIZER_BPE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/tokenizer/added_vocabulary.h"
#include "lib/tokenizer/bpe_model.h"
#include "lib/tokenizer/decoder.h"
#include "lib/tokenizer/normalizer.h"
#include "lib/tokenizer/post_processor.h"
#include "lib/tokenizer/pre_tokenizer.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer {

struct BpeTokenizerParts {
  std::unique_ptr<Normalizer> normalizer;       // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // null: the whole text is one word
  std::unique_ptr<BpeModel> model;              // required
  std::vector<AddedToken> added_tokens;
  PostProcessor post_processor;
  Decoder decoder;
};

class BpeTokenizer : public Tokenizer {
 public:
  // Error (InvalidArgument, naming "added_tokens[i]"): an added token with empty content,
  // a negative id, an id the vocabulary gives to another string, or an id or content used
  // by two added tokens; (naming "post_processor") a post-processor id that is no token.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(BpeTokenizerParts parts);

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::vector<int32_t> EncodeNoSpecial(std::string_view text) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;

 private:
  explicit BpeTokenizer(BpeTokenizerParts parts, std::unique_ptr<AddedVocabulary> added,
                        int32_t vocab_size)
      : parts_(std::move(parts)), added_(std::move(added)), vocab_size_(vocab_size) {}
  // Ids of one plain-text segment (no added tokens in it).
  void EncodeSegment(std::string text, std::vector<int32_t>* ids) const;

  BpeTokenizerParts parts_;
  std::unique_ptr<AddedVocabulary> added_;
  int32_t vocab_size_;
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_BPE_TOKENIZER_H_
