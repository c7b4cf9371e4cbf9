#include "lib/tokenizer/byte_level.h"

#include <array>

#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

bool IsPrintableSelf(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<char32_t, 256> byte_to_char;
  std::array<std::string, 256> byte_to_utf8;
  // Characters of the map are all below U+0144, so a flat array inverts it.
  std::array<int16_t, 0x200> char_to_byte;

  Tables() {
    char_to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      byte_to_char[b] = IsPrintableSelf(b) ? static_cast<char32_t>(b) : 256 + next++;
      char_to_byte[byte_to_char[b]] = static_cast<int16_t>(b);
      AppendUtf8(byte_to_char[b], &byte_to_utf8[b]);
    }
  }
};

const Tables& GetTables() {
  static const Tables* const kTables = new Tables();
  return *kTables;
}

}  // namespace

char32_t ByteToChar(uint8_t b) { return GetTables().byte_to_char[b]; }

std::optional<uint8_t> CharToByte(char32_t c) {
  if (c >= 0x200) return std::nullopt;
  const int16_t b = GetTables().char_to_byte[c];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

void AppendByteLevel(std::string_view bytes, std::string* out) {
  const Tables& tables = GetTables();
  for (char c : bytes) out->append(tables.byte_to_utf8[static_cast<uint8_t>(c)]);
}

std::string ByteLevelTokenBytes(std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const std::optional<uint8_t> b = CharToByte(NextCodePoint(token, &pos));
    if (!b.has_value()) return std::string(token);
    bytes.push_back(static_cast<char>(*b));
  }
  return bytes;
}

}  // namespace r1rl::tokenizer
