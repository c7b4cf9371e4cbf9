// RMSNorm as in Llama/Qwen2: y = w * x / sqrt(mean(x^2) + eps), computed in float32 and
// cast back to the input dtype before the weight multiplies (as transformers does).
#ifndef R1RL_LIB_MODEL_RMS_NORM_H_
#define R1RL_LIB_MODEL_RMS_NORM_H_

#include <torch/torch.h>

namespace r1rl::model {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., dim) -> (..., dim)

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_RMS_NORM_H_
