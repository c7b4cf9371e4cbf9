// What `generate`, `sft`, `eval`, `rejection-sample` and the pipeline's stages load from a
// model folder: the policy (model.dtype, model.device), its tokenizer (tokenizer.path, else
// <dir>/tokenizer.json) and the prompt template (prompt.format). Errors name the file or
// the key.
//
//   ASSIGN_OR_RETURN(LoadedModel m, LoadModel(cfg, "assets/demo-base"));
//   m.tokenizer->Encode(tokenizer::RenderPrompt(m.format, "1+1=")) ...
#ifndef R1RL_LIB_MODEL_MODEL_LOADING_H_
#define R1RL_LIB_MODEL_MODEL_LOADING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"
#include "lib/tokenizer/prompt_template.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::model {

class Policy;  // lib/model/policy.h: include it where a LoadedModel is used

struct LoadedModel {
  std::unique_ptr<Policy> policy;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::string tokenizer_path;  // the file it was read from
  tokenizer::PromptFormat format = tokenizer::PromptFormat::kR1Zero;
};

absl::StatusOr<LoadedModel> LoadModel(const config::Config& cfg, const std::string& dir);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_MODEL_LOADING_H_
