#include "kernels/token_logprobs.h"

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace r1rl::kernels {
namespace {

TEST(TokenLogprobs, MatchesLogSoftmaxGatherInValueAndGradient) {
  torch::manual_seed(0);
  const int64_t b = 3, t = 7, d = 16, v = 101;
  for (double temperature : {1.0, 0.7}) {
    torch::Tensor h1 = torch::randn({b, t, d}, torch::requires_grad());
    torch::Tensor w1 = torch::randn({v, d}, torch::requires_grad());
    torch::Tensor h2 = h1.detach().clone().requires_grad_(true);
    torch::Tensor w2 = w1.detach().clone().requires_grad_(true);
    torch::Tensor targets = torch::randint(v, {b, t}, torch::kInt64);
    TokenLogprobsOptions options;
    options.chunk_tokens = 4;  // several chunks, the last one partial
    options.temperature = temperature;
    auto fused = TokenLogprobs(h1, w1, targets, options);
    auto ref = TokenLogprobsReference(h2, w2, targets, options);
    EXPECT_TRUE(torch::allclose(fused.logprobs, ref.logprobs, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(fused.entropy, ref.entropy, 1e-5, 1e-5));
    // A loss that uses both outputs with distinct weights per token.
    torch::Tensor gl = torch::randn({b, t}), ge = torch::randn({b, t});
    ((fused.logprobs * gl).sum() + (fused.entropy * ge).sum()).backward();
    ((ref.logprobs * gl).sum() + (ref.entropy * ge).sum()).backward();
    EXPECT_TRUE(torch::allclose(h1.grad(), h2.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 1e-4, 1e-5));
  }
}

TEST(TokenLogprobs, WithoutEntropyGivesOnlyLogprobs) {
  torch::Tensor h = torch::randn({5, 8});
  torch::Tensor w = torch::randn({11, 8});
  torch::Tensor targets = torch::randint(11, {5}, torch::kInt64);
  TokenLogprobsOptions options;
  options.with_entropy = false;
  auto out = TokenLogprobs(h, w, targets, options);
  EXPECT_FALSE(out.entropy.defined());
  EXPECT_TRUE(torch::allclose(out.logprobs, TokenLogprobsReference(h, w, targets).logprobs, 1e-5, 1e-5));
}

}  // namespace
}  // namespace r1rl::kernels
