#include "lib/tokenizer/decoder.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {

absl::StatusOr<DecoderStep> ParseDecoderStep(std::string_view type) {
  if (type == "ByteLevel") return DecoderStep::kByteLevel;
  if (type == "Fuse") return DecoderStep::kFuse;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported decoder type \"", AsAbsl(type), "\""));
}

std::string Decoder::Decode(std::vector<std::string> tokens) const {
  if (!present_) return absl::StrJoin(tokens, " ");
  for (DecoderStep step : steps_) {
    switch (step) {
      case DecoderStep::kByteLevel: {
        std::string bytes;
        for (const std::string& token : tokens) bytes.append(ByteLevelTokenBytes(token));
        tokens.assign(1, Utf8Lossy(bytes));
        break;
      }
      case DecoderStep::kFuse:
        tokens.assign(1, absl::StrJoin(tokens, ""));
        break;
    }
  }
  return absl::StrJoin(tokens, "");
}

}  // namespace r1rl::tokenizer
