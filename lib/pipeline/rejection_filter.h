// Which sampled responses rejection sampling keeps (DeepSeek-R1 §2.3.3): those the rules
// reward — a correct answer, the right format, a chain of thought in one language, a
// response that stopped on its own — and that pass R1's readability filters: no mixed-
// language chain of thought, no overlong paragraph, no code block where the task has none,
// no paragraph repeated.
//
//   RejectionFilter filter(options);
//   Verdict v = filter.Judge(response, facts);   // v.kept, v.reasons ("wrong_answer", ...)
//
// Every failed rule is listed (in the order of kReasons), so acceptance statistics can say
// how often each rule bites; the first one is the verdict's reason. Torch-free, pure.
#ifndef R1RL_LIB_PIPELINE_REJECTION_FILTER_H_
#define R1RL_LIB_PIPELINE_REJECTION_FILTER_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1rl::pipeline {

struct RejectionFilterOptions {
  double min_accuracy = 1.0;           // the accuracy component must reach this
  double min_format = 1.0;             // the format component must reach this
  double min_language = 0.95;          // share of the CoT's words in the target language
  int64_t max_paragraph_chars = 2000;  // longer paragraphs are "overlong" (0: no limit)
  int64_t min_repeated_chars = 16;     // shorter repeated paragraphs ("Step 1.") are allowed
};

// What the grader and the sampler found out about one response.
struct ResponseFacts {
  double accuracy = 0.0;  // reward components, in [0, 1]
  double format = 0.0;
  double language = 1.0;       // language consistency of the chain of thought
  bool truncated = false;      // cut at max_new_tokens
  bool task_has_code = false;  // the prompt shows code or the reward is a code test
};

// The rules, in the order they are checked.
inline constexpr std::array<std::string_view, 7> kReasons = {
    "wrong_answer",       "bad_format", "truncated",         "mixed_language",
    "overlong_paragraph", "code_block", "repeated_paragraph"};

struct Verdict {
  bool kept = false;
  std::vector<std::string> reasons;  // the rules it failed (empty when kept)
};

class RejectionFilter {
 public:
  explicit RejectionFilter(RejectionFilterOptions options) : options_(options) {}
  Verdict Judge(std::string_view response, const ResponseFacts& facts) const;
  const RejectionFilterOptions& options() const { return options_; }

 private:
  RejectionFilterOptions options_;
};

// Paragraphs: runs of text separated by blank lines, trimmed, empty ones dropped.
std::vector<std::string> Paragraphs(std::string_view text);
// Whether `text` holds a fenced code block (a line starting with ```).
bool HasCodeBlock(std::string_view text);
// The key responses are deduplicated on: whitespace runs collapsed, ends trimmed.
std::string DedupKey(std::string_view response);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_REJECTION_FILTER_H_
