// Fuzzes ParseTokenizerJson with arbitrary bytes; whatever loads must encode and decode a
// small mixed string without crashing, and decoding its own ids must succeed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto tokenizer = r1rl::tokenizer::ParseTokenizerJson(json, "fuzz.json");
  if (!tokenizer.ok()) return 0;
  static constexpr std::string_view kTexts[] = {"Hello world", "ab  ba\n\n12345 <s> </s>",
                                                "你好 é\xCC\x81 \xF0\x9F\x98\x80", "\xFF\xE4\xBD",
                                                ""};
  for (std::string_view text : kTexts) {
    const std::vector<int32_t> ids = (*tokenizer)->Encode(text);
    auto decoded = (*tokenizer)->Decode(ids);
    if (!decoded.ok()) __builtin_trap();  // Ids we produced must decode.
    (*tokenizer)->EncodeNoSpecial(text);
  }
  for (int32_t id : {-1, 0, 1, 2, 7, (*tokenizer)->vocab_size()}) {
    (*tokenizer)->IdToToken(id);
    (*tokenizer)->IsSpecial(id);
    (void)(*tokenizer)->Decode({id});
  }
  return 0;
}
