// Finding the final answer in a model's response, the way math graders for R1-style
// training read it. Torch-free, pure functions.
//
//   ExtractAnswer("... so the answer is $\\boxed{\\frac{14}{3}}$.")  -> "\\frac{14}{3}"
//   ExtractAnswer("<think>…</think><answer>42</answer>")              -> "42"
//   ExtractAnswer("...\n#### 1,000")                                  -> "1,000"
//
// Order of preference: the last <answer>…</answer> part; the last \boxed{…} or \fbox{…}
// (nested braces, and the brace-less "\boxed 5"); the last "The answer is …" / "final answer
// is …" sentence; GSM8K's "#### N". What is found is then narrowed to its final answer
// (FinalAnswerInText): an answer tag may hold a sentence.
#ifndef R1RL_LIB_REWARDS_ANSWER_EXTRACTION_H_
#define R1RL_LIB_REWARDS_ANSWER_EXTRACTION_H_

#include <optional>
#include <string>
#include <string_view>

namespace r1rl::reward {

// Where the answer was found (reported with every grade, for reward-integrity metrics).
enum class AnswerSource { kNone, kAnswerTag, kBoxed, kAnswerIs, kHashes };
const char* AnswerSourceName(AnswerSource source);

struct ExtractedAnswer {
  std::string text;  // trimmed; empty when source == kNone
  AnswerSource source = AnswerSource::kNone;
};

ExtractedAnswer ExtractAnswer(std::string_view response);

// The content of the last \boxed{…} / \fbox{…} in `text` (nested braces balanced), or
// nullopt when there is none or its braces never close.
std::optional<std::string> LastBoxed(std::string_view text);

// The final answer inside a short text, the way Math-Verify-style graders read one; used on
// answer tags, on reference answers and on "the answer is" sentences:
//   "\\boxed{1}, \\boxed{2}"            -> "1,2"   (boxes side by side are one answer)
//   "$$\\frac12$$", "\\(9\\)", "9."        -> "\\frac12", "9", "9"
//   "so the answer is 1,000.99€"         -> "1,000.99€"  (after an "answer" phrase: the first
//                                            math or number after it)
//   "We find that $x \\lt 3$."           -> "x \\lt 3"   (else the last $…$ / \\(…\\) / \\[…\\])
//   "The total is 45 dollars"            -> "45"    (else, in a sentence, its last number)
//   "x^2+1", "\\text{Monday}", "(C)"      -> unchanged (no sentence around it)
// Backslashes escaped twice ("\\\\frac") are undone first. With read_sentences = false (for
// reference answers, whose words are part of the answer: "June 15") only boxes, delimiters
// and a final period are taken off.
std::string FinalAnswerInText(std::string_view text, bool read_sentences = true);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_ANSWER_EXTRACTION_H_
