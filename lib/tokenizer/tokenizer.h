// Text <-> token ids, as Hugging Face `tokenizers` does it for a model's tokenizer.json.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(".../tokenizer.json"));
//   std::vector<int32_t> ids = tok->Encode("Hello world");   // Qwen2.5: {9707, 1879}
//   ASSIGN_OR_RETURN(std::string text, tok->Decode(ids));
//
// Supported files: a BPE model (byte-level like GPT-2 / Llama 3 / Qwen, or character-level
// like CharTokenizer's) with the normalizers, pre-tokenizers, post-processors and decoders
// listed in docs/tokenizer.md. Encoding is exact: for any valid UTF-8 text the ids equal
// Hugging Face's encode(text).ids (tested against fixtures written by the Python library).
// Input bytes that are not valid UTF-8 are first replaced by U+FFFD (Python could not pass
// them at all).
//
// Thread-safety: const methods are safe to call concurrently.
#ifndef R1RL_LIB_TOKENIZER_TOKENIZER_H_
#define R1RL_LIB_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace r1rl::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` as HF tokenizers' encode(text, add_special_tokens=True) gives them,
  // including post-processor tokens if the file's post_processor adds any (e.g. a BOS via
  // TemplateProcessing). Added tokens written in the text ("<|im_end|>") become their ids.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // Ids of `text` without any post-processor additions (add_special_tokens=False).
  virtual std::vector<int32_t> EncodeNoSpecial(std::string_view text) const = 0;

  // UTF-8 text of `ids` (HF decode with skip_special_tokens=False). Invalid UTF-8 byte
  // sequences (a token split mid-character) become U+FFFD, as HF does.
  // Error (OutOfRange): an id that no token has; the message names it.
  virtual absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const = 0;

  // Number of ids: one past the largest id of the vocabulary and the added tokens.
  virtual int32_t vocab_size() const = 0;

  // The id of token string `token` (an added token's content or a vocabulary entry in the
  // model's spelling, e.g. "Ġworld"), or nullopt.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;

  // The token string of `id`, or nullopt when no token has it.
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;

  // True for added tokens marked "special": true.
  virtual bool IsSpecial(int32_t id) const = 0;
};

// Reads the tokenizer.json at `path` (byte-level or character-level BPE).
// Errors: NotFound / PermissionDenied when unreadable; InvalidArgument naming the file and
// the field when the content is not JSON, model.type is not "BPE", a normalizer /
// pre_tokenizer / post_processor / decoder type is unsupported, a merge names an unknown
// token, a vocabulary id is duplicated or out of range, an added token conflicts, etc.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

// As LoadTokenizer, from the file's text; `source` names it in error messages.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseTokenizerJson(std::string_view json_text,
                                                              const std::string& source);

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_TOKENIZER_H_
