#include "lib/model/rms_norm.h"

namespace r1rl::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor x32 = x.to(torch::kFloat32);
  torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  torch::Tensor normed = x32 * torch::rsqrt(variance + eps_);
  return weight * normed.to(x.scalar_type());
}

}  // namespace r1rl::model
