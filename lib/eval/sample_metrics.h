// R1's accuracy figures from k sampled answers per problem. Torch-free, pure functions.
//
//   PassAt1({true, false, false, true})          -> 0.5   (mean correctness over the k samples)
//   PassAtK(/*n=*/16, /*correct=*/4, /*k=*/8)     -> 0.962 (the unbiased estimator)
//   Vote vote = MajorityVote({"14/3", "", "\\frac{14}{3}", "5"}, same_answer);
//   vote.answer == "14/3", vote.votes == 2, vote.voters == 3
//
// pass@1 is what DeepSeek-R1 reports: sample k responses at temperature > 0 and average
// their correctness (less variance than one greedy answer). pass@k is Chen et al.'s
// unbiased estimator, 1 - C(n-c, k) / C(n, k), the chance that at least one of k samples
// drawn from the n is correct. cons@k is majority voting: the problem counts as solved when
// the most frequent answer among the k (answers grouped by `same`, e.g. math equivalence)
// is correct.
#ifndef R1RL_LIB_EVAL_SAMPLE_METRICS_H_
#define R1RL_LIB_EVAL_SAMPLE_METRICS_H_

#include <functional>
#include <string>
#include <vector>

namespace r1rl::eval {

// Mean of `correct` (0 for no samples).
double PassAt1(const std::vector<bool>& correct);

// 1 - C(n-c, k) / C(n, k) for 0 <= c <= n, 1 <= k <= n; computed as a product (no
// overflow for large n). k > n is clamped to n; c <= 0 gives 0, c >= n gives 1.
double PassAtK(int n, int correct, int k);

struct Vote {
  std::string answer;  // the winning group's first member ("" when nobody voted)
  int votes = 0;       // its size
  int voters = 0;      // answers that took part (non-empty ones)
  int groups = 0;      // distinct answers after grouping
  bool tie = false;    // another group had as many votes (the earliest one wins)
};

// Groups the non-empty `answers` (an empty one: nothing could be extracted, no vote) with
// `same`, checked against each group's first member, and returns the largest group. Ties
// go to the group whose first member came first, so the result does not depend on
// anything but the order of the samples.
Vote MajorityVote(const std::vector<std::string>& answers,
                  const std::function<bool(const std::string&, const std::string&)>& same);

// cons@k of one problem: whether `vote`'s answer is correct, read off the first sample
// that gave it (`correct[i]` grades `answers[i]`). False when nobody voted.
bool ConsensusCorrect(const Vote& vote, const std::vector<std::string>& answers,
                      const std::vector<bool>& correct);

}  // namespace r1rl::eval

#endif  // R1RL_LIB_EVAL_SAMPLE_METRICS_H_
