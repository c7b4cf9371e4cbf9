// Reading and writing a CausalLM's weights as Hugging Face safetensors.
//
// Names are Hugging Face's (the module tree mirrors them). Loading accepts F32, F16 and
// BF16 tensors, a single model.safetensors or a sharded model.safetensors.index.json, and
// converts to the module's dtype. Saving writes the same layout transformers'
// save_pretrained does, with {"format": "pt"} metadata, so transformers loads it unchanged.
#ifndef R1RL_LIB_MODEL_CHECKPOINT_H_
#define R1RL_LIB_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace at {
class Tensor;
}

namespace r1rl::model {

class CausalLMImpl;

// Copies every parameter of `model` from the safetensors in `dir`.
// Errors name the folder and the tensor: a missing tensor (all of them are listed), a
// tensor the model does not have, a shape that disagrees with config.json, a dtype other
// than F32/F16/BF16, and every error of the safetensors reader (bad header, offsets past
// the end, ...). On error the model's parameters are unspecified.
[[nodiscard]] absl::Status LoadWeights(const std::string& dir, CausalLMImpl* model);

// The same from one safetensors file held in `bytes` (weights received over the network);
// `source` names it in errors. A corrupt header or a wrong tensor is an error.
[[nodiscard]] absl::Status LoadWeightsFromBytes(std::string bytes, const std::string& source,
                                                CausalLMImpl* model);

// The same from tensors by name (weights received through a collective group): each is
// copied into the parameter of its name, converting dtype and device.
[[nodiscard]] absl::Status LoadWeightsFromTensors(const std::vector<std::string>& names,
                                                  const std::vector<at::Tensor>& tensors,
                                                  const std::string& source, CausalLMImpl* model);

// The parameters as the bytes of one safetensors file, as `dtype`.
[[nodiscard]] absl::StatusOr<std::string> SerializeWeights(const CausalLMImpl& model,
                                                           const std::string& dtype);

// Writes the parameters of `model` into `dir` (created if absent) as `dtype`
// ("float32", "float16", "bfloat16"), sharded above `max_shard_bytes`.
[[nodiscard]] absl::Status SaveWeights(const CausalLMImpl& model, const std::string& dir,
                                       const std::string& dtype,
                                       int64_t max_shard_bytes = int64_t{5} << 30);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_CHECKPOINT_H_
