// ModelConfig: the architecture of a decoder-only Llama/Qwen2-family model, read from a
// Hugging Face config.json and written back to one.
//
// Supported model_type values: "llama" and "qwen2" (the built-in demo model is a small
// llama, so transformers loads it too). Anything else, or a field
// whose value the model code does not implement (rope_scaling types other than none
// and "llama3", hidden_act other than silu, sliding-window attention switched on,
// mlp_bias true), is rejected with a Status that names the file, the field and the value.
//
// Thread-safety: a plain value type.
#ifndef R1RL_LIB_MODEL_MODEL_CONFIG_H_
#define R1RL_LIB_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::model {

// rope_scaling {"rope_type": "llama3", ...} as in Llama 3.1+.
struct RopeScaling {
  std::string type = "none";  // "none" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type = "llama";        // "llama" | "qwen2"
  std::vector<std::string> architectures;  // e.g. {"Qwen2ForCausalLM"}
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads when absent
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // q/k/v projections carry a bias: true for qwen2, "attention_bias" for llama.
  bool attention_bias = false;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;            // -1: absent
  std::vector<int64_t> eos_token_ids;   // eos_token_id may be an int or a list in HF
  std::string torch_dtype = "float32";  // "float32" | "float16" | "bfloat16"

  // Number of parameters this architecture has (embeddings counted once when tied).
  int64_t NumParameters() const;
};

// Parses config.json text. `source` names the file in error messages.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source = "config.json");
// Reads and parses a config.json file.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path);
// Serializes to config.json text that transformers loads unchanged (LlamaConfig /
// Qwen2Config fields, "architectures", "torch_dtype", "transformers_version").
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_MODEL_CONFIG_H_
