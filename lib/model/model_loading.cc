#include "lib/model/model_loading.h"

#include "lib/model/policy.h"

namespace r1rl::model {

absl::StatusOr<LoadedModel> LoadModel(const config::Config& cfg, const std::string& dir) {
  LoadedModel m;
  PolicyOptions options;
  options.dtype = cfg.GetString("model.dtype");
  options.device = cfg.GetString("model.device");
  auto policy = Policy::Load(dir, options);
  if (!policy.ok()) return policy.status();
  m.policy = std::move(*policy);
  std::string tok_path = cfg.GetString("tokenizer.path");
  if (tok_path.empty()) tok_path = dir + "/tokenizer.json";
  m.tokenizer_path = tok_path;
  auto tok = tokenizer::LoadTokenizer(tok_path);
  if (!tok.ok()) return tok.status();
  m.tokenizer = std::move(*tok);
  auto format = tokenizer::ParsePromptFormat(cfg.GetString("prompt.format"));
  if (!format.ok()) return format.status();
  m.format = *format;
  return m;
}

}  // namespace r1rl::model
