// The demo task as files, for the parts of r1rl that read data rather than the task:
// `r1rl cluster` (learner.data), `r1rl demo --pipeline` and the pipeline presets.
//
//   prompts.jsonl     RL prompts {"id", "prompt": "<bos>347+285=", "reward": {"kind": "math",
//   "answer": "632"}} cold_start.jsonl  SFT rows {"prompt", "response":
//   "<think>…</think><answer>632</answer>"} heldout.jsonl     the test split as prompt rows (never
//   in training text): what eval reads
//
// Torch-free. Everything is fixed by the seed.
#ifndef R1RL_CLI_DEMO_DEMO_DATA_H_
#define R1RL_CLI_DEMO_DEMO_DATA_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace r1rl::demo {

// `count` training prompts (test and validation problems never appear).
absl::Status WritePrompts(const std::string& path, uint64_t seed, int count);

struct DemoDataOptions {
  uint64_t seed = 1;
  int prompts = 4096;
  int cold_start = 300;           // SFT rows
  double scratchpad_share = 0.4;  // of them, those that write the scratchpad
  int heldout = 256;              // the test split's size
};

// Writes prompts.jsonl, cold_start.jsonl and heldout.jsonl into `dir` (created).
absl::Status WriteDemoData(const std::string& dir, const DemoDataOptions& options);

}  // namespace r1rl::demo

#endif  // R1RL_CLI_DEMO_DEMO_DATA_H_
