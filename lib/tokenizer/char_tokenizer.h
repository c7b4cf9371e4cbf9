// CharTokenizer: the built-in demo model's tokenizer -- one id per character of a small fixed
// alphabet, plus whole-word special tokens.
//
// Ids: special_tokens[i] is id i, characters follow in order (code point j of `characters`
// is id special_tokens.size() + j). Special tokens written in the text ("<think>") encode
// to their id; characters outside the alphabet become `unk_token` when one is given and are
// dropped otherwise. No BOS/EOS is added by Encode.
//
// The file format is a Hugging Face tokenizer.json (ToJson / Save): a BPE model with no
// merges whose vocabulary is the special tokens and the single characters, the special
// tokens also listed as added tokens, no normalizer or pre-tokenizer, and a "Fuse" decoder.
// The `tokenizers` Python library loads it and gives the same ids, and so does
// LoadTokenizer, so a demo model directory needs no other tokenizer format.
//
// Thread-safety: immutable after creation; const methods are safe to call concurrently.
#ifndef R1RL_LIB_TOKENIZER_CHAR_TOKENIZER_H_
#define R1RL_LIB_TOKENIZER_CHAR_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer {

// Tab, newline and printable ASCII (' ' .. '~').
std::string DefaultCharTokenizerCharacters();

struct CharTokenizerOptions {
  // The alphabet, UTF-8; each code point is one token. No repeats.
  std::string characters = DefaultCharTokenizerCharacters();
  // Whole-word tokens, ids 0.. in this order. Non-empty, no repeats, none a single
  // character of `characters`.
  std::vector<std::string> special_tokens = {"<pad>",    "<bos>",    "<eos>",    "<think>",
                                             "</think>", "<answer>", "</answer>"};
  // Optional: the special token unknown characters become ("" drops them).
  std::string unk_token;
};

class CharTokenizer : public Tokenizer {
 public:
  // Error (InvalidArgument): options break a rule stated in CharTokenizerOptions.
  static absl::StatusOr<std::unique_ptr<CharTokenizer>> Create(CharTokenizerOptions options);

  // The tokenizer.json text of this tokenizer (see the file comment).
  std::string ToJson() const;
  // Reads ToJson's format. Error (InvalidArgument, naming `source`): not JSON, or not a
  // character tokenizer file (merges present, a multi-character non-special token, ids not
  // in the order Create assigns).
  static absl::StatusOr<std::unique_ptr<CharTokenizer>> FromJson(std::string_view json,
                                                                 const std::string& source);

  // Writes ToJson() to `path` (replacing it). Error (Internal / NotFound) on I/O failure.
  absl::Status Save(const std::string& path) const;
  static absl::StatusOr<std::unique_ptr<CharTokenizer>> Load(const std::string& path);

  const CharTokenizerOptions& options() const { return options_; }

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::vector<int32_t> EncodeNoSpecial(std::string_view text) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;

 private:
  CharTokenizer(CharTokenizerOptions options, std::string json, std::unique_ptr<Tokenizer> impl)
      : options_(std::move(options)), json_(std::move(json)), impl_(std::move(impl)) {}

  CharTokenizerOptions options_;
  std::string json_;
  std::unique_ptr<Tokenizer> impl_;  // the BpeTokenizer of json_
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_CHAR_TOKENIZER_H_
