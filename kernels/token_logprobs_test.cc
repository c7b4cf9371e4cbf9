#include "kernels/token_logprobs.h"

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace r1rl::kernels {
namespace {

// The fused routine against log_softmax + gather on `device`, in value and in the gradient of
// a loss that weighs log-probs and entropies per token (and of a plain sum, whose incoming
// gradient is a stride-0 expanded tensor).
void ExpectMatchesReference(const torch::Device& device, int64_t v, int64_t chunk_tokens) {
  torch::manual_seed(0);
  const int64_t b = 3, t = 7, d = 16;
  auto on = torch::TensorOptions().device(device);
  for (double temperature : {1.0, 0.7}) {
    SCOPED_TRACE(testing::Message() << device << " V=" << v << " T=" << temperature);
    torch::Tensor h1 = torch::randn({b, t, d}, on).requires_grad_(true);
    torch::Tensor w1 = torch::randn({v, d}, on).requires_grad_(true);
    torch::Tensor h2 = h1.detach().clone().requires_grad_(true);
    torch::Tensor w2 = w1.detach().clone().requires_grad_(true);
    torch::Tensor targets = torch::randint(v, {b, t}, on.dtype(torch::kInt64));
    TokenLogprobsOptions options;
    options.chunk_tokens = chunk_tokens;
    options.temperature = temperature;
    auto fused = TokenLogprobs(h1, w1, targets, options);
    auto ref = TokenLogprobsReference(h2, w2, targets, options);
    EXPECT_TRUE(torch::allclose(fused.logprobs, ref.logprobs, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(fused.entropy, ref.entropy, 1e-5, 1e-5));
    // A loss that uses both outputs with distinct weights per token.
    torch::Tensor gl = torch::randn({b, t}, on), ge = torch::randn({b, t}, on);
    ((fused.logprobs * gl).sum() + (fused.entropy * ge).sum()).backward();
    ((ref.logprobs * gl).sum() + (ref.entropy * ge).sum()).backward();
    EXPECT_TRUE(torch::allclose(h1.grad(), h2.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 1e-4, 1e-5));

    for (torch::Tensor x : {h1, w1, h2, w2}) x.mutable_grad() = torch::Tensor();
    TokenLogprobs(h1, w1, targets, options).logprobs.sum().backward();
    TokenLogprobsReference(h2, w2, targets, options).logprobs.sum().backward();
    EXPECT_TRUE(torch::allclose(h1.grad(), h2.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 1e-4, 1e-5));
  }
}

TEST(TokenLogprobs, MatchesLogSoftmaxGatherInValueAndGradient) {
  ExpectMatchesReference(torch::kCPU, 101, 4);  // several chunks, the last one partial
}

// The CUDA kernels (token_logprobs_cuda.cu): the odd vocabulary leaves a partial last stride of
// each row, 151,936 is Qwen2's.
TEST(TokenLogprobs, CudaKernelsMatchReference) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ExpectMatchesReference(torch::Device(torch::kCUDA, 0), 101, 4);
  ExpectMatchesReference(torch::Device(torch::kCUDA, 0), 151936, 8);
}

TEST(TokenLogprobs, WithoutEntropyGivesOnlyLogprobs) {
  torch::Tensor h = torch::randn({5, 8});
  torch::Tensor w = torch::randn({11, 8});
  torch::Tensor targets = torch::randint(11, {5}, torch::kInt64);
  TokenLogprobsOptions options;
  options.with_entropy = false;
  auto out = TokenLogprobs(h, w, targets, options);
  EXPECT_FALSE(out.entropy.defined());
  EXPECT_TRUE(
      torch::allclose(out.logprobs, TokenLogprobsReference(h, w, targets).logprobs, 1e-5, 1e-5));
}

}  // namespace
}  // namespace r1rl::kernels
