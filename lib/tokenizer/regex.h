// A compiled PCRE2 pattern that finds all non-overlapping matches in UTF-8 text, with the
// iteration rules of the Oniguruma bindings Hugging Face tokenizers uses.
//
// Patterns compile with PCRE2_UTF | PCRE2_UCP so that \p{L}, \p{N}, \w and \s are the
// Unicode classes; `\s` and `\S` are rewritten to Unicode White_Space (Oniguruma's meaning,
// which lacks PCRE2's extra U+180E). The pattern is JIT-compiled when the platform allows.
//
// Thread-safety: a Regex is immutable after Create; FindAll may be called concurrently (match
// data lives in thread-local storage).
#ifndef R1RL_LIB_TOKENIZER_REGEX_H_
#define R1RL_LIB_TOKENIZER_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::tokenizer {

class Regex {
 public:
  // Compiles `pattern`; with `literal` it matches the pattern's text verbatim.
  // Error (InvalidArgument): the pattern does not compile, or is empty; names the offset.
  static absl::StatusOr<std::unique_ptr<Regex>> Create(std::string_view pattern, bool literal);

  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [start, end) of the successive matches in `text` (valid UTF-8), searched
  // left to right. An empty match right where the previous match ended is skipped (the
  // search moves on one character), as in Oniguruma's find_iter. A matcher error (a
  // resource limit) ends the search early.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

 private:
  struct Code;
  explicit Regex(std::unique_ptr<Code> code);
  std::unique_ptr<Code> code_;
};

// `pattern` with `\s` / `\S` spelled as explicit Unicode White_Space classes (exposed for
// tests). Escapes inside character classes are rewritten too; `\S` inside a class is kept.
std::string RewriteWhitespaceClasses(std::string_view pattern);

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_REGEX_H_
