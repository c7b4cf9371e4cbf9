// The code reward: the program in a response's last fenced code block, run in the sandbox
// (sandbox.h) against the row's tests.
//
//   stdin/stdout tests: the program runs once per test; a test passes when its output
//     equals the expected one (trailing whitespace of each line and trailing blank lines
//     ignored);
//   test_script: the script is appended to the program (Python: asserts; C++: code with a
//     main) and the whole runs once; it passes when it exits 0.
// Reward: the share of tests passed, or 1/0 with all_or_nothing. C++ is compiled first
// (g++ -std=c++17 -O1, inside the sandbox, with its own limits).
#ifndef R1RL_LIB_REWARDS_CODE_REWARD_H_
#define R1RL_LIB_REWARDS_CODE_REWARD_H_

#include <optional>
#include <string>
#include <string_view>

#include "lib/rewards/reward_spec.h"
#include "lib/rewards/sandbox.h"

namespace r1rl::reward {

struct CodeOptions {
  SandboxLimits run_limits;
  SandboxLimits compile_limits{/*cpu_seconds=*/20,
                               /*wall_seconds=*/30,
                               /*address_space_bytes=*/3ull << 30,
                               /*file_size_bytes=*/64ull << 20,
                               /*open_files=*/256,
                               /*processes=*/64,
                               /*output_bytes=*/64 << 10};
  bool all_or_nothing = false;
  std::string python = "/usr/bin/python3";
  std::string cxx = "/usr/bin/g++";
};

struct CodeScore {
  double score = 0.0;
  int passed = 0, total = 0;
  std::string reason;  // the first failure ("test 2: wrong output", "exit code 1: …")
};

// The body of the last ``` fenced block (any info string), or nullopt.
std::optional<std::string> LastFencedCodeBlock(std::string_view response);

CodeScore ScoreCode(std::string_view response, const RewardSpec& spec, const CodeOptions& options);

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_CODE_REWARD_H_
