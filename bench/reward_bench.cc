// Reward grading throughput and latency: math answers (MATH-500 solutions graded against
// their answers, and wrong answers made from them, which reach the CAS more often) and
// small code programs (Python and C++) in the sandbox. One grading thread, so samples/s is
// per core; latencies are per sample, p50 and p99.
//
//   build/bench/reward_bench [path/to/shared/data]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/rewards/grader.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  std::string response;
  r1rl::reward::RewardSpec spec;
};

void Report(const char* name, const r1rl::reward::Grader& grader,
            const std::vector<Sample>& samples, int rounds) {
  std::vector<double> ms;
  double reward_sum = 0;
  const auto start = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const Sample& s : samples) {
      const auto t0 = Clock::now();
      reward_sum += grader.Score(s.response, s.spec).components.at("accuracy");
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::printf(
      "%-44s %6zu samples  %9.1f samples/s/core  p50 %8.3f ms  p99 %8.3f ms  mean accuracy %.3f\n",
      name, ms.size(), ms.size() / seconds, pct(0.5), pct(0.99), reward_sum / ms.size());
}

}  // namespace

int main(int argc, char** argv) {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  const std::string data = argc > 1 ? argv[1] : std::string(root ? root : ".") + "/../shared/data";
  std::ifstream in(data + "/math500/test.jsonl");
  if (!in) {
    std::fprintf(stderr, "reward_bench: cannot open %s/math500/test.jsonl\n", data.c_str());
    return 1;
  }
  r1rl::reward::GraderOptions options;
  options.format_weight = 0;
  options.cas_workers = 1;
  r1rl::reward::Grader grader(options);

  std::vector<Sample> right, wrong;
  std::string line;
  while (std::getline(in, line)) {
    auto row = nlohmann::json::parse(line);
    r1rl::reward::RewardSpec spec;
    spec.kind = r1rl::reward::RewardKind::kMath;
    spec.answer = row["answer"];
    right.push_back({row["solution"], spec});
    // A wrong answer: the reference with "+1" appended, boxed.
    wrong.push_back({"so the answer is \\boxed{" + spec.answer + "+1}", spec});
  }
  Report("math: MATH-500 solutions (right)", grader, right, 3);
  Report("math: MATH-500 answers + 1 (wrong, CAS)", grader, wrong, 1);

  r1rl::reward::RewardSpec py;
  py.kind = r1rl::reward::RewardKind::kCode;
  py.program_language = "python";
  py.tests = {{"1 2\n", "3\n"}, {"10 20\n", "30\n"}, {"-5 5\n", "0\n"}};
  std::vector<Sample> python(
      20, Sample{"```python\na, b = map(int, input().split())\nprint(a + b)\n```", py});
  Report("code: Python a+b, 3 stdin/stdout tests", grader, python, 1);
  r1rl::reward::RewardSpec cpp = py;
  cpp.program_language = "cpp";
  std::vector<Sample> cc(
      5, Sample{"```cpp\n#include <cstdio>\nint main(){long a,b;std::scanf(\"%ld %ld\",&a,&b);"
                "std::printf(\"%ld\\n\",a+b);}\n```",
                cpp});
  Report("code: C++ a+b, compile + 3 tests", grader, cc, 1);
  return 0;
}
