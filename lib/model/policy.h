// Policy: a language model ready for generation and training, behind a header that does
// not pull in LibTorch (pimpl), so services and the CLI stay cheap to compile.
//
//   ASSIGN_OR_RETURN(auto policy, Policy::Load("/models/qwen2.5-0.5b", {}));
//   CausalLMImpl& lm = policy->lm();   // include causal_lm.h where tensors are needed
//
// Thread-safety: not thread-safe; one user at a time (a generation loop or a learner).
#ifndef R1RL_LIB_MODEL_POLICY_H_
#define R1RL_LIB_MODEL_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/model_config.h"

namespace at {
class Tensor;
}

namespace r1rl::model {

class CausalLMImpl;

struct PolicyOptions {
  // Compute dtype: "float32", "bfloat16", "float16". Stored weights are converted.
  std::string dtype = "float32";
  // "cpu", "cuda", "cuda:N".
  std::string device = "cpu";
};

class Policy {
 public:
  // Reads <dir>/config.json and the safetensors in <dir>. Errors name the file and the
  // field or tensor (see LoadModelConfig and LoadWeights).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Policy>> Load(const std::string& dir,
                                                                    const PolicyOptions& options);
  // A randomly initialised model (normal(0, 0.02) weights, unit norms), reproducible by
  // seed: for tests, benchmarks and training from scratch.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Policy>> RandomInit(
      const ModelConfig& config, uint64_t seed, const PolicyOptions& options);

  // Writes config.json and the weights (as `dtype`) into `dir`, loadable by transformers.
  [[nodiscard]] absl::Status Save(const std::string& dir,
                                  const std::string& dtype = "float32") const;

  // The weights as one safetensors byte string (what the learner streams to workers), and
  // back. LoadWeightsFrom leaves the weights unspecified on error (a corrupt or foreign
  // file, named by `source`).
  [[nodiscard]] absl::StatusOr<std::string> SerializeWeights(
      const std::string& dtype = "float32") const;
  [[nodiscard]] absl::Status LoadWeightsFrom(std::string safetensors_bytes,
                                             const std::string& source);
  // The same from tensors by name, on any device (copied and converted).
  [[nodiscard]] absl::Status LoadWeightsFrom(const std::vector<std::string>& names,
                                             const std::vector<at::Tensor>& tensors,
                                             const std::string& source);

  // The parameters, sorted by name (as the safetensors of SerializeWeights name them): the
  // tensors themselves (detached, on the model's device), not copies.
  void NamedParameters(std::vector<std::string>* names, std::vector<at::Tensor>* tensors) const;

  const ModelConfig& config() const;
  CausalLMImpl& lm();
  const CausalLMImpl& lm() const;

  ~Policy();

 private:
  struct Impl;
  explicit Policy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_POLICY_H_
