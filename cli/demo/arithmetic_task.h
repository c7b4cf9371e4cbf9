// The embedded demo's task: adding two 3-digit numbers, which a small model solves far
// better with a written scratchpad (one column at a time, carry included) than by answering
// at once. Torch-free: problems, the texts the model is trained on, and the rule that grades
// a completion.
//
//   prompt      "<bos>347+285="
//   completion  "<think>7+5+0=12 4+8+1=13 3+2+1=6</think><answer>632</answer><eos>"
//
// Splits: `test` and `validation` problems are fixed by the seed and never appear in
// training text (pre-training, SFT or GRPO prompts).
//
// Thread-safety: a Task is immutable after construction; Grade is pure.
#ifndef R1RL_CLI_DEMO_ARITHMETIC_TASK_H_
#define R1RL_CLI_DEMO_ARITHMETIC_TASK_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "lib/tokenizer/char_tokenizer.h"

namespace r1rl::demo {

struct Problem {
  int a = 0;
  int b = 0;
  int answer() const { return a + b; }
};

// What a completion text earns. format: the exact shape
// "<think>…</think><answer>…</answer>" (nothing before or after, no tag inside a part);
// accuracy: the answer part is the sum's digits.
struct Grade {
  double format = 0.0;
  double accuracy = 0.0;
  bool answer_found = false;  // an <answer>…</answer> part could be extracted
};
Grade GradeCompletion(const Problem& problem, const std::string& completion_text);

// Kinds of pre-training text (DEMO-NOTES: a minority shows the full procedure).
enum class TextKind { kScratchpad, kCorruptedScratchpad, kDirectAnswer, kUntagged };

// Shares of the pre-training mixture; untagged texts take the rest (1 - the three).
struct TextMix {
  double scratchpad = 0.30;
  double corrupted = 0.05;
  double direct = 0.55;
};

// Whether a completion wrote a non-empty <think> part (the scratchpad) before answering.
bool WroteScratchpad(const std::string& completion_text);

class ArithmeticTask {
 public:
  ArithmeticTask(uint64_t seed, int test_size, int validation_size);

  // The demo's character tokenizer: digits, '+', '=', ' ' and the special tokens.
  static std::unique_ptr<tokenizer::CharTokenizer> MakeTokenizer();

  const std::vector<Problem>& test() const { return test_; }
  const std::vector<Problem>& validation() const { return validation_; }
  // A random training problem (never a test or validation one).
  Problem SampleTrain(std::mt19937_64& rng) const;

  static std::string PromptText(const Problem& p);  // "<bos>347+285="
  // The completion text of each kind (the corrupted one gets one wrong column, carried into
  // the answer, chosen by rng).
  static std::string CompletionText(const Problem& p, TextKind kind, std::mt19937_64& rng);
  // A kind drawn from the pre-training mixture.
  static TextKind SampleKind(const TextMix& mix, std::mt19937_64& rng);

 private:
  static int64_t Key(const Problem& p) { return p.a * 1000 + p.b; }
  std::vector<Problem> test_;
  std::vector<Problem> validation_;
  std::unordered_set<int64_t> held_out_;
};

}  // namespace r1rl::demo

#endif  // R1RL_CLI_DEMO_ARITHMETIC_TASK_H_
