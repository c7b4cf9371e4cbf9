#include "cli/demo/arithmetic_task.h"

#include "absl/strings/str_cat.h"

namespace r1rl::demo {
namespace {

const std::string kThink = "<think>", kThinkEnd = "</think>", kAnswer = "<answer>",
                  kAnswerEnd = "</answer>";

Problem RandomProblem(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> digits(100, 999);
  Problem p;
  p.a = digits(rng);
  p.b = digits(rng);
  return p;
}

// Columns from the units up; `wrong_column` (or -1) gets a sum off by one.
std::string Scratchpad(const Problem& p, int wrong_column, int* result) {
  std::string text;
  int carry = 0, value = 0, place = 1;
  int a = p.a, b = p.b;
  for (int col = 0; col < 3; ++col) {
    const int da = a % 10, db = b % 10;
    int sum = da + db + carry;
    if (col == wrong_column) sum = sum == 0 ? 1 : sum + (sum % 2 == 0 ? 1 : -1);
    if (!text.empty()) text += ' ';
    absl::StrAppend(&text, da, "+", db, "+", carry, "=", sum);
    value += (sum % 10) * place;
    carry = sum / 10;
    place *= 10;
    a /= 10;
    b /= 10;
  }
  value += carry * place;
  *result = value;
  return text;
}

}  // namespace

Grade GradeCompletion(const Problem& problem, const std::string& text) {
  Grade g;
  const size_t a0 = text.find(kAnswer);
  const size_t a1 = a0 == std::string::npos ? std::string::npos : text.find(kAnswerEnd, a0);
  std::string answer;
  if (a1 != std::string::npos) {
    g.answer_found = true;
    answer = text.substr(a0 + kAnswer.size(), a1 - a0 - kAnswer.size());
  }
  // Format: <think>X</think><answer>Y</answer>, X and Y without '<'.
  if (text.rfind(kThink, 0) == 0) {
    const size_t t1 = text.find(kThinkEnd);
    if (t1 != std::string::npos && text.find('<', kThink.size()) == t1 &&
        text.compare(t1 + kThinkEnd.size(), kAnswer.size(), kAnswer) == 0 &&
        a0 == t1 + kThinkEnd.size() && a1 != std::string::npos &&
        answer.find('<') == std::string::npos && a1 + kAnswerEnd.size() == text.size()) {
      g.format = 1.0;
    }
  }
  if (g.answer_found && !answer.empty() && answer == std::to_string(problem.answer())) {
    g.accuracy = 1.0;
  }
  return g;
}

ArithmeticTask::ArithmeticTask(uint64_t seed, int test_size, int validation_size) {
  std::mt19937_64 rng(seed ^ 0x5eedULL);
  auto draw = [&](int n, std::vector<Problem>* out) {
    while (static_cast<int>(out->size()) < n) {
      Problem p = RandomProblem(rng);
      if (held_out_.insert(Key(p)).second) out->push_back(p);
    }
  };
  draw(test_size, &test_);
  draw(validation_size, &validation_);
}

std::unique_ptr<tokenizer::CharTokenizer> ArithmeticTask::MakeTokenizer() {
  tokenizer::CharTokenizerOptions options;
  options.characters = "0123456789+= ";
  auto tok = tokenizer::CharTokenizer::Create(options);
  return std::move(*tok);  // fixed, valid options
}

Problem ArithmeticTask::SampleTrain(std::mt19937_64& rng) const {
  while (true) {
    Problem p = RandomProblem(rng);
    if (held_out_.count(Key(p)) == 0) return p;
  }
}

std::string ArithmeticTask::PromptText(const Problem& p) {
  return absl::StrCat("<bos>", p.a, "+", p.b, "=");
}

std::string ArithmeticTask::CompletionText(const Problem& p, TextKind kind, std::mt19937_64& rng) {
  int result = p.answer();
  switch (kind) {
    case TextKind::kScratchpad: {
      std::string pad = Scratchpad(p, -1, &result);
      return absl::StrCat(kThink, pad, kThinkEnd, kAnswer, result, kAnswerEnd, "<eos>");
    }
    case TextKind::kCorruptedScratchpad: {
      std::string pad = Scratchpad(p, std::uniform_int_distribution<int>(0, 2)(rng), &result);
      return absl::StrCat(kThink, pad, kThinkEnd, kAnswer, result, kAnswerEnd, "<eos>");
    }
    case TextKind::kDirectAnswer:
      return absl::StrCat(kThink, kThinkEnd, kAnswer, result, kAnswerEnd, "<eos>");
    case TextKind::kUntagged:
      return absl::StrCat(result, "<eos>");
  }
  return "";
}

TextKind ArithmeticTask::SampleKind(const TextMix& mix, std::mt19937_64& rng) {
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  if (u < mix.scratchpad) return TextKind::kScratchpad;
  if (u < mix.scratchpad + mix.corrupted) return TextKind::kCorruptedScratchpad;
  if (u < mix.scratchpad + mix.corrupted + mix.direct) return TextKind::kDirectAnswer;
  return TextKind::kUntagged;
}

bool WroteScratchpad(const std::string& text) {
  if (text.rfind(kThink, 0) != 0) return false;
  const size_t end = text.find(kThinkEnd);
  return end == std::string::npos || end > kThink.size();
}

}  // namespace r1rl::demo
