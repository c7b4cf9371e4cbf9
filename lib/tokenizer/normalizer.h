// Unicode normalizers of a tokenizer.json ("NFC", "NFD", "NFKC", "NFKD", or a "Sequence"
// of them), implemented with ICU.
//
// Thread-safety: immutable after Create; Normalize may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_NORMALIZER_H_
#define R1RL_LIB_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::tokenizer {

enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

// Maps "NFC", "NFD", "NFKC", "NFKD" to a form. Error (InvalidArgument) for any other name.
absl::StatusOr<NormalizationForm> ParseNormalizationForm(std::string_view name);

class Normalizer {
 public:
  // A normalizer applying `forms` in order (empty: the identity).
  // Error (Internal): ICU could not provide a form's data.
  static absl::StatusOr<std::unique_ptr<Normalizer>> Create(std::vector<NormalizationForm> forms);

  // `text` (valid UTF-8) after every form; valid UTF-8.
  std::string Normalize(std::string_view text) const;

  bool is_identity() const { return forms_.empty(); }

 private:
  explicit Normalizer(std::vector<const void*> forms) : forms_(std::move(forms)) {}
  // icu::Normalizer2 singletons (owned by ICU), kept opaque so ICU stays out of this header.
  std::vector<const void*> forms_;
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_NORMALIZER_H_
