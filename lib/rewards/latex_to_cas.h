// Translating a normalised LaTeX expression (latex_normalize.h) into the expression
// syntax GiNaC's parser reads, for symbolic comparison.
//
//   LatexToCas("\\frac{1}{2}\\sqrt{3}")  -> "((1)/(2))*sqrt(3)"
//   LatexToCas("2x^{2}+3x")              -> "2*x^(2)+3*x"
//   LatexToCas("\\sqrt[3]{2}")           -> "(2)^(1/(3))"
//   LatexToCas("0.25\\pi")               -> "(25/100)*Pi"   (decimals become exact rationals)
//   LatexToCas("3+4i")                   -> "3+4*I"         (a lone i is the imaginary unit)
//
// nullopt for what it does not translate (\infty, relations, commas, unknown commands,
// unbalanced groups): the caller then compares as strings only.
#ifndef R1RL_LIB_REWARDS_LATEX_TO_CAS_H_
#define R1RL_LIB_REWARDS_LATEX_TO_CAS_H_

#include <optional>
#include <string>
#include <string_view>

namespace r1rl::reward {

std::optional<std::string> LatexToCas(std::string_view normalized_latex);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_LATEX_TO_CAS_H_
