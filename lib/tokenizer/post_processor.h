// Post-processors of a tokenizer.json, reduced to what they do to a single sequence's ids:
// the ids to put before and after it.
//
// Supported: "ByteLevel" (no ids; it only trims offsets), "TemplateProcessing" (its
// `single` template), "RobertaProcessing" / "BertProcessing" (cls + ids + sep), and a
// "Sequence" of them (applied in order). Pair templates are not used.
//
// Thread-safety: immutable; Apply may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_POST_PROCESSOR_H_
#define R1RL_LIB_TOKENIZER_POST_PROCESSOR_H_

#include <cstdint>
#include <vector>

namespace r1rl::tokenizer {

class PostProcessor {
 public:
  PostProcessor() = default;

  // Adds a step that wraps the current sequence in `prefix` ... `suffix`.
  void AddStep(std::vector<int32_t> prefix, std::vector<int32_t> suffix);

  // Every id the steps add (to check they name tokens).
  std::vector<int32_t> added_ids() const;

  // `ids` with every step applied (add_special_tokens=True).
  std::vector<int32_t> Apply(std::vector<int32_t> ids) const;

 private:
  std::vector<int32_t> prefix_;  // steps composed: outermost first
  std::vector<int32_t> suffix_;
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_POST_PROCESSOR_H_
