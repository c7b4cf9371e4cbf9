// UTF-8 helpers shared by the tokenizer pipeline.
//
// All functions are pure and thread-safe. "Lossy" conversion follows Rust's
// String::from_utf8_lossy (which Hugging Face tokenizers uses when decoding): each maximal
// invalid subsequence -- the longest prefix of a well-formed sequence, or one byte -- becomes
// one U+FFFD.
#ifndef R1RL_LIB_TOKENIZER_UTF8_H_
#define R1RL_LIB_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace r1rl::tokenizer {

// Debian's Abseil has its own string_view type; this bridges std -> absl.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Length in bytes of the well-formed UTF-8 sequence at the start of `bytes`, or 0 when the
// sequence there is ill-formed or truncated. `*invalid_len` (if not null) receives, for an
// ill-formed start, how many bytes a lossy decoder replaces with one U+FFFD (>= 1).
size_t Utf8SequenceLength(std::string_view bytes, size_t* invalid_len = nullptr);

// True when `bytes` is entirely well-formed UTF-8.
bool IsValidUtf8(std::string_view bytes);

// `bytes` with every ill-formed subsequence replaced by U+FFFD (see the file comment).
std::string Utf8Lossy(std::string_view bytes);

// Appends the UTF-8 encoding of code point `cp` (<= 0x10FFFF, not a surrogate) to `out`.
void AppendUtf8(char32_t cp, std::string* out);

// Decodes the code point starting at `bytes[*pos]` of valid UTF-8 and advances `*pos`.
// Precondition: `bytes` is valid UTF-8 and *pos < bytes.size() is on a boundary.
char32_t NextCodePoint(std::string_view bytes, size_t* pos);

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_UTF8_H_
