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
//
// What it does, in order: Unicode math symbols to LaTeX (−, π, ×, ·, ∞, √), strip '$' and
// spacing commands (\, \! \; \: \quad ~ \displaystyle), \left/\right/\big, \dfrac/\tfrac to
// \frac, \mbox/\mathrm/\textbf to \text, degrees (^\circ), percent and dollar signs, unit
// words after a value (\text{ cm}), brace-less \frac12 and
// \sqrt2, thousands separators (1,000 and 1{,}000), trailing zeros of decimals, all
// whitespace, a trailing period.
#ifndef R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_
#define R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_

#include <string>
#include <string_view>

namespace r1rl::reward {

std::string NormalizeAnswer(std::string_view answer);

// "12", "-3.5", "1/4" (after NormalizeAnswer) as a double; false when it is not a plain number.
bool ParsePlainNumber(std::string_view s, double* value);

// "(A)", "A", "\text{(B)}", "B)" -> 'A'/'B' (A-E), else 0.
char ChoiceLetter(std::string_view answer);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_LATEX_NORMALIZE_H_
