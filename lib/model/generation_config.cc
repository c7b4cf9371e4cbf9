#include "lib/model/generation_config.h"

namespace r1rl::model {

GenerationOptions GenerationOptionsFromConfig(const config::Config& cfg) {
  GenerationOptions options;
  options.max_new_tokens = cfg.GetInt("generation.max_new_tokens");
  options.temperature = cfg.GetDouble("generation.temperature");
  options.top_p = cfg.GetDouble("generation.top_p");
  options.top_k = cfg.GetInt("generation.top_k");
  options.greedy = cfg.GetBool("generation.greedy");
  options.seed = static_cast<uint64_t>(cfg.GetInt("generation.seed"));
  options.stop_strings = cfg.GetStringList("generation.stop_strings");
  for (int64_t id : cfg.GetIntList("generation.stop_token_ids"))
    options.stop_token_ids.push_back(static_cast<int32_t>(id));
  options.max_batch = cfg.GetInt("generation.max_batch");
  return options;
}

}  // namespace r1rl::model
