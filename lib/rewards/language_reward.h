// Language consistency (DeepSeek-R1): the share of the chain of thought written in the
// target language's script, so a chain of thought that mixes languages scores less.
//
//   LanguageConsistency("Let me think step by step", "en")   -> 1.0
//   LanguageConsistency("Let me 想一想 step", "en")            -> 0.6 (3 Latin words of 5)
//
// Words are counted with ICU: a run of letters is one word in alphabetic scripts; each Han,
// Hiragana or Katakana character is one word (those scripts do not separate words with
// spaces). Digits, punctuation and symbols do not count. A text with no words scores 1.
// Targets: a language code (en, fr, de, es, it, pt, ru, uk, el, ar, he, hi, zh, ja, ko,
// th) or an ICU script name ("Latin", "Cyrillic", "Han").
#ifndef R1RL_LIB_REWARDS_LANGUAGE_REWARD_H_
#define R1RL_LIB_REWARDS_LANGUAGE_REWARD_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace r1rl::reward {

// InvalidArgument naming the target when it is neither a known language nor a script.
absl::StatusOr<double> LanguageConsistency(std::string_view text, std::string_view target);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_LANGUAGE_REWARD_H_
