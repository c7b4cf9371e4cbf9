// Prompt templates: how a question is wrapped before the policy sees it.
//
//   kR1Zero    DeepSeek-R1-Zero's plain-text template (reasoning in <think>, answer in
//              <answer>), for base models;
//   kQwenChat  Qwen2.5's ChatML chat template (tokenizer_config.json, no tools) with the
//              generation prompt; with no system prompt it inserts Qwen's default one;
//   kRaw       the prompt unchanged.
// All functions are pure and thread-safe.
#ifndef R1RL_LIB_TOKENIZER_PROMPT_TEMPLATE_H_
#define R1RL_LIB_TOKENIZER_PROMPT_TEMPLATE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace r1rl::tokenizer {

enum class PromptFormat { kR1Zero, kQwenChat, kRaw };

// The system prompt Qwen2.5's chat template uses when none is given.
inline constexpr std::string_view kQwenDefaultSystemPrompt =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// "r1-zero", "qwen-chat" or "raw". Error (InvalidArgument) names the accepted values.
absl::StatusOr<PromptFormat> ParsePromptFormat(std::string_view name);

// The config spelling of `format` (inverse of ParsePromptFormat).
std::string_view PromptFormatName(PromptFormat format);

// `user_prompt` wrapped in `format`'s template. `system_prompt` is used by kQwenChat only
// (empty: Qwen's default system prompt); kR1Zero and kRaw ignore it.
std::string RenderPrompt(PromptFormat format, std::string_view user_prompt,
                         std::string_view system_prompt = "");

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_PROMPT_TEMPLATE_H_
