// Normalising a math answer written in LaTeX (or plain text) so that equal answers written
// differently compare equal as strings. Torch-free, pure.
//
//   NormalizeAnswer("$\\dfrac{1}{2}$")        -> "\\frac{1}{2}"
//   NormalizeAnswer("10\\%")                  -> "10"
//   NormalizeAnswer("1,000.50")               -> "1000.5"
//   NormalizeAnswer("x = 3")                  -> "x=3"
//   NormalizeAnswer("90^\\circ")              -> "90"
//   NormalizeAnswer("5 \\text{ cm}^2")        -> "5"
//   NormalizeAnswer("\\left( 3, \\frac{\\pi}{2} \\right)") -> "(3,\\frac{\\pi}{2})"
//   NormalizeAnswer("1 000")                  -> "1000"     (and "1\\,000", "7,425,000")
//   NormalizeAnswer("1000,99")                -> "1000.99"  (an unambiguous decimal comma)
//   NormalizeAnswer("x \\le 3")               -> "x<=3"     (\\lt \\gt \\le \\ge \\neq: < > <= >=
//   !=) NormalizeAnswer("x=1 \\text{ or } x=2")   -> "x=1,x=2"  (or, and, ';' list solutions)
//
// What it does, in order: Unicode math symbols to LaTeX (−, π, ×, ·, ∞, √), strip '$' and
// spacing commands (\, \! \; \: \quad ~ \displaystyle), \left/\right/\big, \dfrac/\tfrac to
// \frac, \mbox/\mathrm/\textbf to \text, degrees (^\circ), percent and dollar signs, unit
// words after a value (\text{ cm}), currency signs (€ £ ¥), "percent", brace-less \frac12
// and \sqrt2, math delimiters (\( \) \[ \]), relations to ASCII, "or"/"and"/";" between
// solutions to ",", thousands separators (1,000, 1{,}000, 1 000), a decimal comma where it
// cannot be a thousands separator or a list (0,111 and 1000,99; not 1,5), a repeating decimal
// as its fraction (0.\overline{3} -> \frac{1}{3}), trailing zeros of decimals, all whitespace,
// a trailing period.
#ifndef R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_
#define R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_

#include <string>
#include <string_view>

namespace r1rl::reward {

// Answers longer than this are returned as they are: no real final answer is that long, and
// std::regex recurses per character (libstdc++ overflows an 8 MiB stack at ~20,000).
inline constexpr size_t kMaxAnswerChars = 2048;

std::string NormalizeAnswer(std::string_view answer);

// Text whose backslashes were escaped twice (JSON written from an already-escaped string:
// "\\\\frac{1}{2}", "\\\\\\\\" between matrix rows) with every "\\\\" halved; other text as it is.
// Doubling is recognised by a doubled backslash before a LaTeX command name (frac, sqrt,
// boxed, left, pi, ...).
std::string UndoDoubledBackslashes(std::string_view text);

// "12", "-3.5", "1/4" (after NormalizeAnswer) as a double; false when it is not a plain number.
bool ParsePlainNumber(std::string_view s, double* value);

// "(A)", "A", "\text{(B)}", "B)", "(C) 12" -> 'A'/'B'/'C' (A-E), else 0.
char ChoiceLetter(std::string_view answer);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_
