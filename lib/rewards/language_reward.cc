#include "lib/rewards/language_reward.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace r1rl::reward {
namespace {

// The scripts a language is written in.
absl::StatusOr<std::set<UScriptCode>> TargetScripts(std::string_view target) {
  static const std::map<std::string, std::set<UScriptCode>> kLanguages = {
      {"en", {USCRIPT_LATIN}},
      {"fr", {USCRIPT_LATIN}},
      {"de", {USCRIPT_LATIN}},
      {"es", {USCRIPT_LATIN}},
      {"it", {USCRIPT_LATIN}},
      {"pt", {USCRIPT_LATIN}},
      {"ru", {USCRIPT_CYRILLIC}},
      {"uk", {USCRIPT_CYRILLIC}},
      {"el", {USCRIPT_GREEK}},
      {"ar", {USCRIPT_ARABIC}},
      {"he", {USCRIPT_HEBREW}},
      {"hi", {USCRIPT_DEVANAGARI}},
      {"zh", {USCRIPT_HAN}},
      {"ja", {USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA}},
      {"ko", {USCRIPT_HANGUL, USCRIPT_HAN}},
      {"th", {USCRIPT_THAI}}};
  const std::string key(target);
  if (auto it = kLanguages.find(key); it != kLanguages.end()) return it->second;
  const int32_t code = u_getPropertyValueEnum(UCHAR_SCRIPT, key.c_str());
  if (code != UCHAR_INVALID_CODE) return std::set<UScriptCode>{static_cast<UScriptCode>(code)};
  return absl::InvalidArgumentError(absl::StrCat(
      "language = \"", key, "\": not a known language code (en, zh, ru, …) or ICU script name"));
}

bool CharacterIsWord(UScriptCode s) {
  return s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA;
}

}  // namespace

absl::StatusOr<double> LanguageConsistency(std::string_view text, std::string_view target) {
  auto scripts = TargetScripts(target);
  if (!scripts.ok()) return scripts.status();
  int64_t words = 0, in_target = 0;
  bool in_word = false;  // inside a run of letters of an alphabetic script
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(text.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), i, n, c);
    if (c < 0 || !u_isalpha(c)) {
      in_word = false;
      continue;
    }
    UErrorCode err = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(c, &err);
    if (U_FAILURE(err) || script == USCRIPT_COMMON || script == USCRIPT_INHERITED) continue;
    if (CharacterIsWord(script)) {
      in_word = false;
      ++words;
      in_target += scripts->count(script);
    } else if (!in_word) {
      in_word = true;
      ++words;
      in_target += scripts->count(script);
    }
  }
  return words == 0 ? 1.0 : static_cast<double>(in_target) / static_cast<double>(words);
}

}  // namespace r1rl::reward
