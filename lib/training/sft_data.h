// SFT data: JSONL rows {"prompt": "...", "response": "..."} turned into token ids.
//
// The prompt is rendered with the configured template (tokenizer/prompt_template.h) and
// encoded with special tokens recognised; the response is encoded and followed by
// `eos_id` (when >= 0), so the model learns to stop. Blank lines are skipped.
// Errors (InvalidArgument) name the file and the line: not JSON, not an object, a missing
// or non-string "prompt"/"response", an empty response.
#ifndef R1RL_LIB_TRAINING_SFT_DATA_H_
#define R1RL_LIB_TRAINING_SFT_DATA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/tokenizer/prompt_template.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/training/sft_trainer.h"

namespace r1rl::learner {

absl::StatusOr<std::vector<SftExample>> ParseSftJsonl(const std::string& text,
                                                      const std::string& source,
                                                      const tokenizer::Tokenizer& tok,
                                                      tokenizer::PromptFormat format,
                                                      const std::string& system, int32_t eos_id);

absl::StatusOr<std::vector<SftExample>> LoadSftJsonl(const std::string& path,
                                                     const tokenizer::Tokenizer& tok,
                                                     tokenizer::PromptFormat format,
                                                     const std::string& system, int32_t eos_id);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_SFT_DATA_H_
