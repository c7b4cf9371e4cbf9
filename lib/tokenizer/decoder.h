// Decoders of a tokenizer.json: how token strings become text.
//
// Supported: "ByteLevel" (token characters mapped back to bytes, then lossy UTF-8 as
// Hugging Face does), "Fuse" (concatenation) and a "Sequence" of them. With no decoder the
// tokens are joined with single spaces, as in Hugging Face.
//
// Thread-safety: immutable; Decode may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_DECODER_H_
#define R1RL_LIB_TOKENIZER_DECODER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::tokenizer {

enum class DecoderStep { kByteLevel, kFuse };

// Maps "ByteLevel" and "Fuse" to a step. Error (InvalidArgument) for any other type.
absl::StatusOr<DecoderStep> ParseDecoderStep(std::string_view type);

class Decoder {
 public:
  // No steps and `present` false: no decoder (space-joined). No steps and `present` true:
  // an empty Sequence (plain concatenation).
  Decoder() = default;
  Decoder(std::vector<DecoderStep> steps, bool present)
      : steps_(std::move(steps)), present_(present) {}

  // The text of `tokens` (the strings of the ids, added tokens' content included).
  std::string Decode(std::vector<std::string> tokens) const;

 private:
  std::vector<DecoderStep> steps_;
  bool present_ = false;
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_DECODER_H_
