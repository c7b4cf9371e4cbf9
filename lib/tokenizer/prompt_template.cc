#include "lib/tokenizer/prompt_template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

constexpr std::string_view kR1ZeroPrefix =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: ";
constexpr std::string_view kR1ZeroSuffix = ". Assistant:";

}  // namespace

absl::StatusOr<PromptFormat> ParsePromptFormat(std::string_view name) {
  if (name == "r1-zero") return PromptFormat::kR1Zero;
  if (name == "qwen-chat") return PromptFormat::kQwenChat;
  if (name == "raw") return PromptFormat::kRaw;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown prompt format \"", AsAbsl(name),
                   "\" (expected \"r1-zero\", \"qwen-chat\" or \"raw\")"));
}

std::string_view PromptFormatName(PromptFormat format) {
  switch (format) {
    case PromptFormat::kR1Zero:
      return "r1-zero";
    case PromptFormat::kQwenChat:
      return "qwen-chat";
    case PromptFormat::kRaw:
      return "raw";
  }
  return "raw";
}

std::string RenderPrompt(PromptFormat format, std::string_view user_prompt,
                         std::string_view system_prompt) {
  switch (format) {
    case PromptFormat::kR1Zero:
      return absl::StrCat(AsAbsl(kR1ZeroPrefix), AsAbsl(user_prompt), AsAbsl(kR1ZeroSuffix));
    case PromptFormat::kQwenChat:
      return absl::StrCat("<|im_start|>system\n",
                          AsAbsl(system_prompt.empty() ? kQwenDefaultSystemPrompt : system_prompt),
                          "<|im_end|>\n<|im_start|>user\n", AsAbsl(user_prompt),
                          "<|im_end|>\n<|im_start|>assistant\n");
    case PromptFormat::kRaw:
      return std::string(user_prompt);
  }
  return std::string(user_prompt);
}

}  // namespace r1rl::tokenizer
