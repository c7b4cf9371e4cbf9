// Fuzzes the math grader on untrusted model output: answer extraction, normalisation, the
// LaTeX-to-CAS translator, the format and language rewards, and the equivalence judge
// (reference and prediction split at the first newline). Any input must give a verdict;
// a CAS that crashes or hangs is contained in its helper process.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/rewards/answer_extraction.h"
#include "lib/rewards/format_reward.h"
#include "lib/rewards/language_reward.h"
#include "lib/rewards/latex_normalize.h"
#include "lib/rewards/latex_to_cas.h"
#include "lib/rewards/math_equivalence.h"

// CLN (GiNaC's number library) keeps allocations from its static initialisers until exit.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcln.so\nleak:libginac.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 512) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  static auto* cas = new r1rl::reward::CasPool(1);
  static auto* judge = new r1rl::reward::MathJudge(cas, {1e-4, absl::Milliseconds(200)});
  r1rl::reward::ExtractedAnswer a = r1rl::reward::ExtractAnswer(text);
  if (a.source == r1rl::reward::AnswerSource::kNone && !a.text.empty()) __builtin_trap();
  const std::string n = r1rl::reward::NormalizeAnswer(text);
  (void)r1rl::reward::LatexToCas(n);
  double v;
  (void)r1rl::reward::ParsePlainNumber(n, &v);
  (void)r1rl::reward::ChoiceLetter(text);
  for (bool partial : {false, true}) {
    auto f = r1rl::reward::ScoreFormat(text, r1rl::reward::FormatStyle::kR1Zero, partial);
    if (f.score < 0 || f.score > 1) __builtin_trap();
    (void)r1rl::reward::ScoreFormat(text, r1rl::reward::FormatStyle::kR1Chat, partial);
  }
  auto lang = r1rl::reward::LanguageConsistency(r1rl::reward::ChainOfThought(text), "en");
  if (!lang.ok() || *lang < 0 || *lang > 1) __builtin_trap();
  const size_t nl = text.find('\n');
  if (nl != std::string::npos) (void)judge->Judge(text.substr(0, nl), text.substr(nl + 1));
  return 0;
}
