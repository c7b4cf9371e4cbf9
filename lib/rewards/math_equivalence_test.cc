// The math grader, case by case: answer extraction, normalisation, and a table of
// hand-written equivalence cases (positive and negative), plus the CAS time limit.
#include "lib/rewards/math_equivalence.h"

#include <chrono>

#include "gtest/gtest.h"
#include "lib/rewards/answer_extraction.h"
#include "lib/rewards/latex_normalize.h"
#include "lib/rewards/latex_to_cas.h"

namespace r1rl::reward {
namespace {

TEST(AnswerExtraction, FindsTheFinalAnswer) {
  struct Case {
    const char* response;
    const char* answer;
    AnswerSource source;
  };
  const Case cases[] = {
      {"so $x = \\boxed{\\frac{14}{3}}$.", "\\frac{14}{3}", AnswerSource::kBoxed},
      {"first \\boxed{1} then \\boxed{2}", "2", AnswerSource::kBoxed},
      {"nested \\boxed{\\frac{\\sqrt{2}}{2}} end", "\\frac{\\sqrt{2}}{2}", AnswerSource::kBoxed},
      {"\\fbox{7}", "7", AnswerSource::kBoxed},
      {"the value is \\boxed 5 indeed", "5", AnswerSource::kBoxed},
      {"\\boxed {12}", "12", AnswerSource::kBoxed},
      {"a set \\boxed{\\{1,2\\}}", "\\{1,2\\}", AnswerSource::kBoxed},
      {"<think>\\boxed{3}</think><answer> 42 </answer>", "42", AnswerSource::kAnswerTag},
      {"<think>..</think><answer>so \\boxed{9}</answer>", "9", AnswerSource::kAnswerTag},
      {"<answer>$\\frac12$</answer>", "\\frac12", AnswerSource::kAnswerTag},
      {"Thus the answer is 17.", "17", AnswerSource::kAnswerIs},
      {"The final answer is $\\frac{3}{4}$.\nThanks", "\\frac{3}{4}", AnswerSource::kAnswerIs},
      {"THE ANSWER IS: 8", "8", AnswerSource::kAnswerIs},
      {"so the final answer is 42 because 40 + 2", "42", AnswerSource::kAnswerIs},
      {"Hence the answer is Evelyn.", "Evelyn", AnswerSource::kAnswerIs},
      {"Janet makes 18.\n#### 18", "18", AnswerSource::kHashes},
      {"#### 1,000", "1,000", AnswerSource::kHashes},
      {"no answer here", "", AnswerSource::kNone},
      {"\\boxed{unclosed", "", AnswerSource::kNone},
      {"\\boxedfoo{1}", "", AnswerSource::kNone},
      {"roots \\boxed{1} and \\boxed{2}.", "1,2", AnswerSource::kBoxed},
      {"$\\boxed{3}$, $\\boxed{4}$", "3,4", AnswerSource::kBoxed},
      {"<answer>We find that $x \\lt 3$.</answer>", "x \\lt 3", AnswerSource::kAnswerTag},
      {"<answer>so the answer is 1,000.99 dollars</answer>", "1,000.99", AnswerSource::kAnswerTag},
      {"<answer>Answer \\( 9 \\)</answer>", "9", AnswerSource::kAnswerTag},
      {"<answer>\\[ x^2 \\]</answer>", "x^2", AnswerSource::kAnswerTag},
      {"<answer>It costs 45 dollars in total.</answer>", "45", AnswerSource::kAnswerTag},
      {"<answer>\\text{Monday}</answer>", "\\text{Monday}", AnswerSource::kAnswerTag},
      {"<answer>2xy</answer>", "2xy", AnswerSource::kAnswerTag},
      {"<answer>\\\\boxed{\\\\frac{1}{2}}</answer>", "\\frac{1}{2}", AnswerSource::kAnswerTag},
  };
  for (const Case& c : cases) {
    ExtractedAnswer got = ExtractAnswer(c.response);
    EXPECT_EQ(got.text, c.answer) << c.response;
    EXPECT_EQ(got.source, c.source) << c.response;
  }
}

TEST(Normalize, Forms) {
  const std::pair<const char*, const char*> cases[] = {
      {"$\\dfrac{1}{2}$", "\\frac{1}{2}"},
      {"\\tfrac12", "\\frac{1}{2}"},
      {"\\frac1{2}", "\\frac{1}{2}"},
      {"\\sqrt2", "\\sqrt{2}"},
      {"10\\%", "10"},
      {"1,000.50", "1000.5"},
      {"1{,}000", "1000"},
      {"x = 3", "x=3"},
      {"90^\\circ", "90"},
      {"90^{\\circ}", "90"},
      {"5 \\text{ cm}^2", "5"},
      {"\\text{Monday}", "Monday"},
      {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"},
      {"\\$18.00", "18"},
      {"0.500", "0.5"},
      {".5", "0.5"},
      {"\\displaystyle 7.", "7"},
      {"1 000", "1000"},
      {"1\\,000", "1000"},
      {"12 345 678.5", "12345678.5"},
      {"1 0000", "10000"},
      {"1000,99", "1000.99"},
      {"0,111", "0.111"},
      {"1,5", "1,5"},
      {"28 percent", "28"},
      {"x \\le 3", "x<=3"},
      {"x \\leqslant 3", "x<=3"},
      {"x \\neq 3", "x!=3"},
      {"\\left\\{1, 2\\right\\}", "\\{1,2\\}"},
      {"x=1 \\text{ or } x=2", "x=1,x=2"},
      {"3; 4", "3,4"},
      {"\\(9\\)", "9"},
      {"\\\\frac{1}{2}", "\\frac{1}{2}"},
      {"\u22123", "-3"},
      {"2\u03c0", "2\\pi"},
      {"\\pi r^2", "\\pi r^2"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(NormalizeAnswer(in), want) << in;
}

TEST(LatexToCas, Translates) {
  EXPECT_EQ(*LatexToCas("\\frac{1}{2}\\sqrt{3}"), "((1)/(2))*sqrt(3)");
  EXPECT_EQ(*LatexToCas("2x^{2}+3x"), "2*x^(2)+3*x");
  EXPECT_EQ(*LatexToCas("\\sqrt[3]{2}"), "(2)^(1/(3))");
  EXPECT_EQ(*LatexToCas("0.25\\pi"), "(025/100)*Pi");
  EXPECT_EQ(*LatexToCas("3+4i"), "3+4*I");
  EXPECT_EQ(*LatexToCas("a_1b_{2}"), "a_1*b_2");
  EXPECT_FALSE(LatexToCas("\\infty").has_value());
  EXPECT_FALSE(LatexToCas("1,2").has_value());
  EXPECT_FALSE(LatexToCas("\\frac{1}{").has_value());
}

struct EqCase {
  const char* reference;
  const char* predicted;
  bool equivalent;
};

// Hand-written cases: the forms graders meet in R1-style training on MATH and GSM8K.
const EqCase kCases[] = {
    // integers and decimals
    {"3", "3", true},
    {"3", "3.0", true},
    {"3", "03", true},
    {"3", "3.00", true},
    {"3", "4", false},
    {"3", "-3", false},
    {"-3", "- 3", true},
    {"0", "0.0", true},
    {"1000", "1,000", true},
    {"1000000", "1,000,000", true},
    {"1000", "1{,}000", true},
    {"1000", "10000", false},
    {"2.5", "2.50", true},
    {"2.5", "2.51", false},
    {"0.5", ".5", true},
    {"12", "12.", true},
    {"18", "\\$18", true},
    {"18", "$18.00", true},
    {"18", "18 dollars", true},
    {"18", "19 dollars", false},
    // fractions
    {"\\frac{1}{2}", "0.5", true},
    {"\\frac{1}{2}", "1/2", true},
    {"\\frac{1}{2}", "\\dfrac{1}{2}", true},
    {"\\frac{1}{2}", "\\tfrac12", true},
    {"\\frac{1}{2}", "\\frac{2}{4}", true},
    {"\\frac{1}{2}", "\\frac{2}{1}", false},
    {"\\frac{14}{3}", "4.6667", true},
    {"\\frac{14}{3}", "14/3", true},
    {"\\frac{14}{3}", "\\frac{3}{14}", false},
    {"-\\frac{1}{3}", "\\frac{-1}{3}", true},
    {"-\\frac{1}{3}", "\\frac{1}{3}", false},
    {"\\frac{3}{4}", "75\\%", false},
    {"\\frac{7}{2}", "3\\frac{1}{2}", false},
    // radicals
    {"\\sqrt{2}", "\\sqrt2", true},
    {"2\\sqrt{2}", "\\sqrt{8}", true},
    {"\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true},
    {"\\sqrt{3}", "1.7320508", true},
    {"\\sqrt{3}", "1.73", false},
    {"3\\sqrt{2}", "\\sqrt{18}", true},
    {"\\sqrt{2}", "\\sqrt{3}", false},
    {"\\sqrt[3]{8}", "2", true},
    {"\\sqrt[3]{2}", "2^{1/3}", true},
    {"5\\sqrt{5}", "\\sqrt{125}", true},
    {"\\frac{5\\sqrt{3}}{3}", "\\frac{5}{\\sqrt{3}}", true},
    {"2+\\sqrt{3}", "\\sqrt{3}+2", true},
    {"2-\\sqrt{3}", "\\sqrt{3}-2", false},
    // pi and constants
    {"2\\pi", "2\\pi", true},
    {"2\\pi", "\\pi\\cdot 2", true},
    {"\\frac{\\pi}{2}", "\\frac12\\pi", true},
    {"\\frac{\\pi}{2}", "1.5707963", true},
    {"\\pi", "3.14", false},
    {"4\\pi", "2\\pi", false},
    {"18\\pi", "18 \\pi", true},
    {"\\frac{9\\pi}{2}", "4.5\\pi", true},
    // degrees, percent, units
    {"90", "90^\\circ", true},
    {"90^\\circ", "90", true},
    {"30", "30^{\\circ}", true},
    {"45", "45\\%", true},
    {"5", "5 \\text{ cm}", true},
    {"12", "12\\text{ inches}", true},
    {"6", "6 \\mbox{ square units}", true},
    {"25", "25 \\text{ cm}^2", true},
    {"25", "26 \\text{ cm}^2", false},
    // algebraic expressions
    {"x^2+2x+1", "(x+1)^2", true},
    {"x^2+2x+1", "(x+1)^{2}", true},
    {"x^2-1", "(x-1)(x+1)", true},
    {"x^2-1", "(x-1)^2", false},
    {"2x+3", "3+2x", true},
    {"2x+3", "2x-3", false},
    {"\\frac{x+1}{x}", "1+\\frac{1}{x}", true},
    {"\\frac{1}{x-1}", "\\frac{1}{1-x}", false},
    {"a^2b", "ba^2", true},
    {"6x^3", "6x^{3}", true},
    {"3x^2-6x", "3x(x-2)", true},
    {"x^3", "x^2", false},
    {"\\frac{a}{b}", "a/b", true},
    {"-x+1", "1-x", true},
    {"\\frac{1}{2}x", "\\frac{x}{2}", true},
    {"x+y", "y+x", true},
    {"xy", "yx", true},
    {"2^{10}", "1024", true},
    {"2^{-1}", "0.5", true},
    {"3^4", "81", true},
    {"3^4", "64", false},
    // equations and "var ="
    {"3", "x=3", true},
    {"x=3", "3", true},
    {"y=2x+3", "y = 2x + 3", true},
    {"y=2x+3", "2x - y + 3 = 0", true},
    {"y=2x+3", "y=3x+2", false},
    {"x+y=1", "2x+2y=2", true},
    {"x+y=1", "x-y=1", false},
    {"k=-2", "-2", true},
    // complex numbers
    {"3+4i", "4i+3", true},
    {"3+4i", "3-4i", false},
    {"1+i", "i+1", true},
    {"2i", "2 i", true},
    {"-1", "i^2", true},
    // tuples, points, vectors
    {"(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", true},
    {"(1,2)", "(2,1)", false},
    {"(1,2)", "(1, 2)", true},
    {"(1,2,3)", "(1,2)", false},
    {"(0.5,1)", "(\\frac12, 1)", true},
    {"(-2,3)", "(-2, 3)", true},
    {"(-2,3)", "(2,-3)", false},
    {"(1,-1,2)", "(1, -1, 2)", true},
    // intervals
    {"(1,2]", "(1, 2]", true},
    {"(1,2]", "(1,2)", false},
    {"[0,\\infty)", "[0, \\infty)", true},
    {"(-\\infty,3)", "(-\\infty, 3)", true},
    {"(-\\infty,3)", "(-\\infty,3]", false},
    {"[-2,5]", "[-2, 5]", true},
    {"(-\\infty,0)\\cup(1,\\infty)", "(1,\\infty)\\cup(-\\infty,0)", true},
    {"(-\\infty,0)\\cup(1,\\infty)", "(-\\infty,0)\\cup[1,\\infty)", false},
    // sets and lists (order-free)
    {"\\{1,2\\}", "\\{2,1\\}", true},
    {"\\{1,2\\}", "\\{1,3\\}", false},
    {"\\{1,2\\}", "\\{1,2,3\\}", false},
    {"1,2", "2,1", true},
    {"1,2", "2, 1", true},
    {"-1,3", "3, -1", true},
    {"-1,3", "1, 3", false},
    {"\\frac{1}{2},3", "3,0.5", true},
    {"1,2,3", "\\{3,2,1\\}", true},
    {"2,-3", "(2,-3)", true},
    {"1\\pm\\sqrt{2}", "1\\pm\\sqrt{2}", true},
    // matrices
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
     true},
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}", false},
    {"\\begin{pmatrix}\\frac12\\\\0\\end{pmatrix}", "\\begin{pmatrix}0.5\\\\0\\end{pmatrix}", true},
    {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix}", false},
    // multiple choice
    {"A", "A", true},
    {"A", "(A)", true},
    {"(B)", "B", true},
    {"\\text{(C)}", "C", true},
    {"C", "(c)", true},
    {"D", "E", false},
    {"A", "B", false},
    {"\\textbf{(E)}", "E", true},
    // words
    {"\\text{Monday}", "Monday", true},
    {"\\text{Monday}", "monday", true},
    {"\\text{even}", "odd", false},
    {"\\text{yes}", "Yes", true},
    // trig and logs
    {"\\sin(x)", "\\sin x", true},
    {"\\ln 2", "\\log(2)", true},
    {"\\frac{\\sqrt{3}}{2}", "\\cos(\\frac{\\pi}{6})", true},
    {"2\\ln 2", "\\ln 4", true},
    {"\\ln 2", "\\ln 3", false},
    // garbage and empties
    {"5", "", false},
    {"5", "five", false},
    {"5", "\\boxed{", false},
    {"\\frac{1}{2}", "\\frac{1}{", false},
    {"x^2", "x^", false},
    {"7", "7, 7", false},
    {"(1,2)", "", false},
    // bases and subscripts as written (string equality)
    {"1011_2", "1011_2", true},
    {"1011_2", "1011_3", false},
    {"a_1", "a_1", true},
    // more numbers
    {"-0.25", "-\\frac{1}{4}", true},
    {"100", "1e2", false},
    {"\\frac{100}{3}", "33.333333", true},
    {"2017", "2017", true},
    {"2017", "2,017", true},
    {"12.5", "\\frac{25}{2}", true},
    {"\\frac{25}{2}", "12\\frac12", false},
    {"17", "17.0001", true},
    {"17", "17.01", false},
};

// Answers as people and models write them (issue 21), by kind, each with near misses that
// must stay wrong: a false "correct" is a reward hack.
const EqCase kWrittenForms[] = {
    // the reference itself written with delimiters, boxes or a period
    {"$9$", "9", true},
    {"\\(9\\)", "9", true},
    {"$$\\frac{1}{2}$$", "0.5", true},
    {"\\boxed{9}", "9", true},
    {"\\[ 9 \\]", "$9$", true},
    {"9.", "9", true},
    {"The answer is $\\boxed{14}$.", "14", true},
    {"$9$", "8", false},
    {"\\boxed{9}", "\\boxed{19}", false},
    {"\\(9\\)", "\\(-9\\)", false},
    // a final answer inside free text
    {"1000.99", "so the answer is 1,000.99\u20ac", true},
    {"1000.99", "so the answer is 1,000.98\u20ac", false},
    {"9", "Answer \\( 9 \\)", true},
    {"9", "Answer \\( 8 \\)", false},
    {"x<3", "We find that $x \\lt 3$.", true},
    {"x<3", "We find that $x \\le 3$.", false},
    {"45", "The total cost is 45 dollars.", true},
    {"45", "The total cost is 54 dollars.", false},
    {"12", "First we get 3, and the result is 12.", true},
    {"3", "First we get 3, and the result is 12.", false},
    {"\\frac{1}{2}", "The probability is $\\frac{1}{2}$, as computed.", true},
    {"\\frac{1}{2}", "The probability is $\\frac{1}{3}$, as computed.", false},
    {"7", "The sum of 3 and 4 is \\boxed{7} here", true},
    {"3", "so \\boxed{7} is bigger than 3", false},
    {"5", "The answer is 5, not 6.", true},
    {"6", "The answer is 5, not 6.", false},
    {"\\text{Monday}", "It is Monday", false},
    // numbers: separators, decimal comma, leading dot, currency, percent
    {"1000", "1 000", true},
    {"1000", "1\\,000", true},
    {"7425000", "7,425,000", true},
    {"7425000", "7 425 000", true},
    {"1000.99", "1,000.99", true},
    {"1000.99", "1000,99", true},
    {"0.111", "0,111", true},
    {"0.4", ".4", true},
    {"28", "28\\%", true},
    {"28", "28%", true},
    {"28", "28 percent", true},
    {"12.5", "\\$12.50", true},
    {"12.5", "12.50\u20ac", true},
    {"1.5", "1,5", false},
    {"1000", "1 0000", false},
    {"0.111", "0,1111", false},
    {"28", "29 percent", false},
    {"1000.99", "100099", false},
    {"111", "0,111", false},
    {"0.4", ".41", false},
    // equations and relations
    {"11", "x = 11", true},
    {"11", "x = 5+5+1 = 11", true},
    {"2", "z = 1+1 = 2", true},
    {"11", "x = 5+5+1 = 12", false},
    {"x<1", "-x>-1", true},
    {"x<1", "-x<-1", false},
    {"x<1", "x \\le 1", false},
    {"x \\le 2", "2 \\ge x", true},
    {"x \\leq 2", "x<=2", true},
    {"x \\ge 2", "x \\gt 2", false},
    {"x \\neq 3", "x != 3", true},
    {"x \\neq 3", "x \\ne 4", false},
    {"(0,1)", "0 < f(x) < 1", true},
    {"(0,1)", "0 \\le f(x) < 1", false},
    {"(0,1)", "0 < f(x) < 2", false},
    {"[-2,7]", "x \\in [-2,7]", true},
    {"[-2,7]", "x \\in (-2,7]", false},
    {"[3,\\infty)", "x \\ge 3", true},
    {"[3,\\infty)", "x > 3", false},
    {"(-\\infty,0)\\cup(1,\\infty)", "x<0 \\text{ or } x>1", true},
    {"(-\\infty,0)\\cup(1,\\infty)", "x<0 \\text{ or } x>2", false},
    {"1<x<4", "4>x>1", true},
    {"1<x<4", "1<x<=4", false},
    {"1<x<4", "1<y<4", false},
    // tuples and sets
    {"(3,2,7)", "(p,q,r)=(3,2,7)", true},
    {"(3,2,7)", "(p,q,r)=(3,7,2)", false},
    {"1,2", "x=1 \\text{ or } x=2", true},
    {"1,2", "x = 1 or x = 2", true},
    {"1,2", "x=1 and x=3", false},
    {"\\{1,2\\}", "1; 2", true},
    {"\\{1,2\\}", "1; 3", false},
    {"\\boxed{1,2}", "\\boxed{1}\\boxed{2}", true},
    {"\\boxed{1,2}", "\\boxed{1} and \\boxed{2}", true},
    {"1,2", "\\boxed{1}, \\boxed{3}", false},
    {"2", "\\boxed{1}\\boxed{2}", false},
    {"k = 45, n = 2", "\\boxed{45}, \\boxed{2}", true},
    {"k = 45, n = 2", "\\boxed{2}, \\boxed{46}", false},
    {"\\{1,2\\}", "{2,1}", true},
    {"\\{1,2\\}", "{1,3}", false},
    {"a=2,b=3", "(2,3)", true},
    {"a=2,b=3", "(2,4)", false},
    {"2x+1", "f(x) = 2x+1", true},
    {"2x+1", "f(x) = 2x-1", false},
    {"June 15", "15", false},
    {"2,-2", "x = \\pm 2", true},
    {"2,-2", "\\pm 3", false},
    {"1+\\sqrt{2},1-\\sqrt{2}", "1 \\pm \\sqrt{2}", true},
    {"1+\\sqrt{2},1-\\sqrt{2}", "1 \\pm \\sqrt{3}", false},
    {"\\frac{1}{3}", "0.\\overline{3}", true},
    {"\\frac{1}{3}", "0.\\overline{33}", true},
    {"\\frac{1}{3}", "0.\\overline{4}", false},
    {"\\frac{137}{110}", "1.2\\overline{45}", true},
    {"\\frac{137}{110}", "1.\\overline{245}", false},
    // matrices, fraction commands, constants, choices, brackets, doubled backslashes
    {"\\begin{pmatrix}\\frac{1}{2}&0\\\\0&1\\end{pmatrix}",
     "\\begin{bmatrix}0.5&0\\\\0&1\\end{bmatrix}", true},
    {"\\begin{pmatrix}\\frac{1}{2}&0\\\\0&1\\end{pmatrix}",
     "\\left[\\begin{matrix}\\dfrac12&0\\\\0&1\\end{matrix}\\right]", true},
    {"\\begin{pmatrix}\\frac{1}{2}&0\\\\0&1\\end{pmatrix}",
     "\\begin{bmatrix}0.5&0\\\\1&0\\end{bmatrix}", false},
    {"\\frac{3}{4}", "\\dfrac{3}{4}", true},
    {"\\frac{3}{4}", "\\tfrac{3}{4}", true},
    {"\\frac{3}{4}", "\\tfrac{4}{3}", false},
    {"e^{2}", "\\mathrm{e}^{2}", true},
    {"e^{2}", "\\mathrm{e}^{3}", false},
    {"C", "\\text{(C)}", true},
    {"C", "\\text{(D)}", false},
    {"C", "(C) 12", true},
    {"C", "(D) 12", false},
    {"C", "The answer is C.", true},
    {"C", "The answer is (D).", false},
    {"(1,2)", "\\left( 1, 2 \\right)", true},
    {"\\frac{1}{2}", "\\\\frac{1}{2}", true},
    {"\\frac{1}{2}", "\\\\frac{1}{3}", false},
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\\\begin{pmatrix}1&2\\\\\\\\3&4\\\\end{pmatrix}",
     true},
    {"\\sqrt{2}", "\\\\sqrt{2}", true},
    // not to be read as a number in a sentence
    {"2", "2xy", false},
    {"2", "2 \\cdot x", false},
    {"5", "5 or 6", false},
};

// Judges every case of `cases`, reports each wrong verdict, prints "<n> <what> (<k> equivalent,
// <n-k> not), <f> wrong"; with `tagged`, also each prediction inside an answer tag through the
// grader's extraction. Returns the number of cases.
template <size_t N>
int CheckTable(const EqCase (&cases)[N], const char* what, bool tagged) {
  CasPool cas(1);
  MathJudge judge(&cas);
  int failures = 0, positives = 0;
  for (const EqCase& c : cases) {
    MathJudgement j = judge.Judge(c.reference, c.predicted);
    positives += c.equivalent;
    if (j.equivalent != c.equivalent) {
      ++failures;
      ADD_FAILURE() << "[" << c.reference << "] vs [" << c.predicted << "]: got " << j.equivalent
                    << " (" << j.how << "), want " << c.equivalent;
    }
    if (!tagged) continue;
    const std::string text = std::string("<think>…</think><answer>") + c.predicted + "</answer>";
    const ExtractedAnswer got = ExtractAnswer(text);
    EXPECT_EQ(judge.Judge(c.reference, got.text).equivalent, c.equivalent)
        << "[" << c.reference << "] vs " << text << " (extracted [" << got.text << "])";
  }
  const int n = static_cast<int>(N);
  std::cout << n << " " << what << " (" << positives << " equivalent, " << n - positives
            << " not), " << failures << " wrong\n";
  return n;
}

TEST(MathEquivalence, WrittenFormsTable) { CheckTable(kWrittenForms, "written forms", true); }

// Answers far longer than any real one (a model's runaway output inside the answer tag) are
// judged, not crashed on: std::regex recurses per character.
TEST(MathEquivalence, HugeAnswersAreRefusedNotCrashedOn) {
  CasPool cas(1);
  MathJudge judge(&cas);
  const std::string digits(200000, '7'), dollars = "$" + std::string(200000, 'a') + "$";
  for (const std::string& text : {digits, digits + ".5", dollars, "We find " + dollars + " here.",
                                  "\\(" + digits + "\\)", "so the answer is " + digits}) {
    const MathJudgement j = judge.Judge("7", ExtractAnswer("<answer>" + text + "</answer>").text);
    EXPECT_FALSE(j.equivalent) << j.how;
    EXPECT_FALSE(judge.Judge(text, "7").equivalent);
    EXPECT_NE(NormalizeAnswer(text).size(), 0u);
    EXPECT_EQ(ChoiceLetter(text), 0);
  }
  // The last number of a long sentence still counts (it is read from its end).
  EXPECT_TRUE(judge
                  .Judge("7", ExtractAnswer("<answer>The total is " + std::string(100000, 'x') +
                                            " so 7 dollars</answer>")
                                  .text)
                  .equivalent);
}

TEST(MathEquivalence, HandWrittenTable) { EXPECT_GE(CheckTable(kCases, "cases", false), 150); }

TEST(Cas, TimeLimitHoldsAndTheHelperComesBack) {
  CasPool cas(1);
  // Expanding this takes far longer than the limit.
  CasQuery slow{CasMode::kExpression, "(x+y+z+1)^120", "(x+y+z+2)^120"};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cas.Compare(slow, absl::Milliseconds(200)), CasVerdict::kTimeout);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);
  EXPECT_EQ(cas.timeouts(), 1);
  // The next call gets a fresh helper and works.
  EXPECT_EQ(cas.Compare({CasMode::kExpression, "2*x", "x+x"}, absl::Seconds(5)),
            CasVerdict::kEqual);
  EXPECT_EQ(cas.Compare({CasMode::kExpression, "((", "1"}, absl::Seconds(5)),
            CasVerdict::kUnparsable);
}

}  // namespace
}  // namespace r1rl::reward
