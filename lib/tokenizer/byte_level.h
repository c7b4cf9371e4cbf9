// GPT-2's reversible byte <-> printable-character map used by byte-level BPE.
//
// Every byte 0..255 is mapped to one Unicode code point: printable Latin-1 bytes map to
// themselves, the rest (controls, space, soft hyphen...) to U+0100 and up, in byte order
// (so ' ' becomes U+0120 'Ġ'). Byte-level BPE vocabularies are written in these
// characters. All functions are pure and thread-safe.
#ifndef R1RL_LIB_TOKENIZER_BYTE_LEVEL_H_
#define R1RL_LIB_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace r1rl::tokenizer {

// The code point byte `b` is written as.
char32_t ByteToChar(uint8_t b);

// The byte that code point `c` stands for, or nullopt when `c` is not in the map.
std::optional<uint8_t> CharToByte(char32_t c);

// Appends the byte-level spelling of `bytes` (any bytes) to `out` as UTF-8.
void AppendByteLevel(std::string_view bytes, std::string* out);

// The bytes a byte-level token stands for: its characters mapped back through the table.
// When some character of `token` (valid UTF-8) is not in the map, the token's own UTF-8 bytes
// are returned unchanged, as Hugging Face's ByteLevel decoder does (this is how added tokens
// such as "<|im_end|>" pass through).
std::string ByteLevelTokenBytes(std::string_view token);

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_BYTE_LEVEL_H_
