#include "lib/rewards/format_reward.h"

#include <cctype>
#include <vector>

namespace r1rl::reward {
namespace {

constexpr std::string_view kThink = "<think>", kThinkEnd = "</think>", kAnswer = "<answer>",
                           kAnswerEnd = "</answer>";

size_t Count(std::string_view s, std::string_view needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string_view::npos;
       p = s.find(needle, p + needle.size()))
    ++n;
  return n;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct Check {
  bool pass;
  const char* reason;
};

FormatScore Score(const std::vector<Check>& checks, bool partial) {
  FormatScore out;
  int passed = 0;
  for (const Check& c : checks) {
    if (c.pass) {
      ++passed;
    } else if (out.reason.empty()) {
      out.reason = c.reason;
    }
  }
  if (partial) {
    out.score = static_cast<double>(passed) / static_cast<double>(checks.size());
  } else {
    out.score = passed == static_cast<int>(checks.size()) ? 1.0 : 0.0;
  }
  return out;
}

}  // namespace

FormatScore ScoreFormat(std::string_view response, FormatStyle style, bool partial_credit) {
  const std::string_view t = TrimView(response);
  const size_t think_end = t.find(kThinkEnd);
  if (style == FormatStyle::kR1Zero) {
    const size_t answer = t.find(kAnswer);
    const bool one_think = t.substr(0, kThink.size()) == kThink && Count(t, kThink) == 1;
    const bool one_think_end = Count(t, kThinkEnd) == 1;
    bool answer_follows = false;
    if (think_end != std::string_view::npos && answer != std::string_view::npos &&
        answer > think_end && Count(t, kAnswer) == 1) {
      answer_follows =
          TrimView(t.substr(think_end + kThinkEnd.size(), answer - think_end - kThinkEnd.size()))
              .empty();
    }
    const bool answer_ends = Count(t, kAnswerEnd) == 1 && t.size() >= kAnswerEnd.size() &&
                             t.substr(t.size() - kAnswerEnd.size()) == kAnswerEnd &&
                             answer != std::string_view::npos && t.rfind(kAnswerEnd) > answer;
    return Score({{one_think, "the response must open with exactly one <think>"},
                  {one_think_end, "exactly one </think> expected"},
                  {answer_follows, "<answer> must follow </think> (only whitespace between)"},
                  {answer_ends, "the response must end with exactly one </answer>"}},
                 partial_credit);
  }
  const bool one_think_end = Count(t, kThinkEnd) == 1;
  const bool no_stray =
      think_end == std::string_view::npos ||
      (Count(t, kThink) <= 1 && t.find(kThink, think_end) == std::string_view::npos &&
       (t.find(kThink) == std::string_view::npos || t.find(kThink) == 0));
  const bool answer = think_end != std::string_view::npos &&
                      !TrimView(t.substr(think_end + kThinkEnd.size())).empty();
  return Score({{one_think_end, "exactly one </think> expected"},
                {no_stray, "<think> must only open the response"},
                {answer, "an answer must follow </think>"}},
               partial_credit);
}

std::string_view ChainOfThought(std::string_view response) {
  const size_t open = response.find(kThink);
  const size_t close = response.find(kThinkEnd);
  if (open == std::string_view::npos && close == std::string_view::npos) return response;
  const size_t begin =
      open == std::string_view::npos || (close != std::string_view::npos && open > close)
          ? 0
          : open + kThink.size();
  const size_t end = close == std::string_view::npos || close < begin ? response.size() : close;
  return response.substr(begin, end - begin);
}

}  // namespace r1rl::reward
