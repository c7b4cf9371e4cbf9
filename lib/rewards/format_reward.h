// The format reward: whether a response has the shape R1 trains for.
//
//   kR1Zero  "<think> … </think> <answer> … </answer>"  (R1-Zero's template; whitespace
//            allowed between and around the parts, nothing else outside them)
//   kR1Chat  "<think> … </think>" followed by a non-empty answer (R1's chat form; the
//            opening <think> may be missing because chat templates often put it in the
//            prompt)
//
// Strict scoring gives 1 or 0. Partial credit gives the share of the shape's checks that
// pass (R1-Zero: one <think> at the start, one </think>, one <answer> right after it, one
// </answer> at the end; chat: one </think>, no stray <think> after it, a non-empty answer).
#ifndef R1RL_LIB_REWARDS_FORMAT_REWARD_H_
#define R1RL_LIB_REWARDS_FORMAT_REWARD_H_

#include <string>
#include <string_view>

namespace r1rl::reward {

enum class FormatStyle { kR1Zero, kR1Chat };

struct FormatScore {
  double score = 0.0;
  std::string reason;  // the first check that failed; empty when all pass
};

FormatScore ScoreFormat(std::string_view response, FormatStyle style, bool partial_credit);

// The chain of thought: the text inside <think>…</think> (up to the end when </think> is
// missing); the whole response when there is no <think> part.
std::string_view ChainOfThought(std::string_view response);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_FORMAT_REWARD_H_
