#include "lib/tokenizer/utf8.h"

#include <cstdint>

namespace r1rl::tokenizer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

size_t Utf8SequenceLength(std::string_view bytes, size_t* invalid_len) {
  if (invalid_len != nullptr) *invalid_len = 1;
  if (bytes.empty()) return 0;
  const uint8_t b0 = static_cast<uint8_t>(bytes[0]);
  if (b0 < 0x80) return 1;
  size_t need;
  // The allowed range of the second byte rules out overlongs and surrogates.
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  size_t i = 1;
  for (; i < need && i < bytes.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(bytes[i]);
    const bool ok = (i == 1) ? (b >= lo && b <= hi) : IsContinuation(b);
    if (!ok) break;
  }
  if (i == need) return need;
  if (invalid_len != nullptr) *invalid_len = i;
  return 0;
}

bool IsValidUtf8(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (static_cast<uint8_t>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t len = Utf8SequenceLength(bytes.substr(pos));
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t invalid_len = 1;
    const size_t len = Utf8SequenceLength(bytes.substr(pos), &invalid_len);
    if (len == 0) {
      out.append(kReplacement);
      pos += invalid_len;
    } else {
      out.append(bytes.substr(pos, len));
      pos += len;
    }
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t NextCodePoint(std::string_view bytes, size_t* pos) {
  const uint8_t b0 = static_cast<uint8_t>(bytes[*pos]);
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  }
  size_t len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t cp = b0 & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) {
    cp = (cp << 6) | (static_cast<uint8_t>(bytes[*pos + i]) & 0x3F);
  }
  *pos += len;
  return cp;
}

}  // namespace r1rl::tokenizer
