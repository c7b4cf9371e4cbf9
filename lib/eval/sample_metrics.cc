#include "lib/eval/sample_metrics.h"

#include <algorithm>

namespace r1rl::eval {

double PassAt1(const std::vector<bool>& correct) {
  if (correct.empty()) return 0.0;
  return static_cast<double>(std::count(correct.begin(), correct.end(), true)) /
         static_cast<double>(correct.size());
}

double PassAtK(int n, int correct, int k) {
  if (n <= 0 || k <= 0 || correct <= 0) return 0.0;
  k = std::min(k, n);
  if (correct >= n || n - correct < k) return 1.0;
  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
  double fail = 1.0;
  for (int i = n - correct + 1; i <= n; ++i)
    fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - fail;
}

Vote MajorityVote(const std::vector<std::string>& answers,
                  const std::function<bool(const std::string&, const std::string&)>& same) {
  struct Group {
    const std::string* first;
    int votes;
  };
  std::vector<Group> groups;
  Vote v;
  for (const std::string& a : answers) {
    if (a.empty()) continue;
    ++v.voters;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return same(*x.first, a); });
    if (g == groups.end()) {
      groups.push_back({&a, 1});
    } else {
      ++g->votes;
    }
  }
  v.groups = static_cast<int>(groups.size());
  const Group* best = nullptr;
  for (const Group& g : groups) {
    if (best == nullptr || g.votes > best->votes) best = &g;  // strict: the earliest keeps a tie
  }
  if (best == nullptr) return v;
  v.answer = *best->first;
  v.votes = best->votes;
  v.tie = std::count_if(groups.begin(), groups.end(),
                        [&](const Group& g) { return g.votes == best->votes; }) > 1;
  return v;
}

bool ConsensusCorrect(const Vote& vote, const std::vector<std::string>& answers,
                      const std::vector<bool>& correct) {
  if (vote.votes == 0) return false;
  for (size_t i = 0; i < answers.size() && i < correct.size(); ++i) {
    if (!answers[i].empty() && answers[i] == vote.answer) return correct[i];
  }
  return false;
}

}  // namespace r1rl::eval
