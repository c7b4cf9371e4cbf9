#include "lib/tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<NormalizationForm> ParseNormalizationForm(std::string_view name) {
  if (name == "NFC") return NormalizationForm::kNfc;
  if (name == "NFD") return NormalizationForm::kNfd;
  if (name == "NFKC") return NormalizationForm::kNfkc;
  if (name == "NFKD") return NormalizationForm::kNfkd;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported normalizer type \"", AsAbsl(name), "\""));
}

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(
    std::vector<NormalizationForm> forms) {
  std::vector<const void*> instances;
  for (NormalizationForm form : forms) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = nullptr;
    switch (form) {
      case NormalizationForm::kNfc:
        instance = icu::Normalizer2::getNFCInstance(status);
        break;
      case NormalizationForm::kNfd:
        instance = icu::Normalizer2::getNFDInstance(status);
        break;
      case NormalizationForm::kNfkc:
        instance = icu::Normalizer2::getNFKCInstance(status);
        break;
      case NormalizationForm::kNfkd:
        instance = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status) || instance == nullptr) {
      return absl::InternalError(absl::StrCat("ICU normalizer unavailable: ", u_errorName(status)));
    }
    instances.push_back(instance);
  }
  return std::unique_ptr<Normalizer>(new Normalizer(std::move(instances)));
}

std::string Normalizer::Normalize(std::string_view text) const {
  std::string current(text);
  // Every form leaves ASCII unchanged.
  if (forms_.empty() || IsAscii(text)) return current;
  for (const void* form : forms_) {
    const auto* normalizer = static_cast<const icu::Normalizer2*>(form);
    std::string next;
    icu::StringByteSink<std::string> sink(&next, static_cast<int32_t>(current.size()));
    UErrorCode status = U_ZERO_ERROR;
    normalizer->normalizeUTF8(0, icu::StringPiece(current.data(), current.size()), sink, nullptr,
                              status);
    // Input is valid UTF-8, so ICU cannot fail short of memory exhaustion; keep the text.
    if (U_FAILURE(status)) continue;
    current = std::move(next);
  }
  return current;
}

}  // namespace r1rl::tokenizer
