// Pre-tokenizers of a tokenizer.json: they cut normalized text into the pieces ("words")
// that the BPE model encodes one at a time.
//
// Supported, matching Hugging Face tokenizers:
//   Split      a regex or literal pattern, behavior Removed / Isolated / MergedWithPrevious /
//              MergedWithNext / Contiguous, and `invert`;
//   ByteLevel  add_prefix_space, use_regex (GPT-2's built-in pattern), then every piece is
//              respelled in byte-level characters (see byte_level.h);
//   Sequence   of the above, applied in order.
// Empty pieces are dropped after each step, as in Hugging Face.
//
// Thread-safety: immutable after creation; Apply may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_PRE_TOKENIZER_H_
#define R1RL_LIB_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/tokenizer/regex.h"

namespace r1rl::tokenizer {

// GPT-2's pattern, which ByteLevel(use_regex=true) splits with.
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Maps "Removed", "Isolated", ... to a behavior. Error (InvalidArgument) otherwise.
absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name);

struct SplitOptions {
  std::string pattern;
  bool pattern_is_regex = true;  // false: `pattern` is matched literally
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // split on what does NOT match
};

struct ByteLevelOptions {
  bool add_prefix_space = false;  // prepend ' ' to each piece not starting with one
  bool use_regex = true;          // split with kGpt2Pattern first
};

// One step of pre-tokenization.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `*pieces` with the pieces each of them splits into, in order, empty ones dropped.
  virtual void Apply(std::vector<std::string>* pieces) const = 0;
};

// Error (InvalidArgument): the pattern is empty or does not compile.
absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateSplitPreTokenizer(const SplitOptions& options);
absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateByteLevelPreTokenizer(
    const ByteLevelOptions& options);
// Applies `steps` in order.
std::unique_ptr<PreTokenizer> CreateSequencePreTokenizer(
    std::vector<std::unique_ptr<PreTokenizer>> steps);

// The pieces `text` splits into under `regex` and `behavior` (exposed for tests).
std::vector<std::string> SplitWithRegex(const Regex& regex, SplitBehavior behavior, bool invert,
                                        std::string_view text);

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_PRE_TOKENIZER_H_
