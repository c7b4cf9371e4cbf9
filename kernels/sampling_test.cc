#include "kernels/sampling.h"

#include <torch/torch.h>

#include <cmath>

#include "gtest/gtest.h"

namespace r1rl::kernels {
namespace {

TEST(Sampling, GreedyTakesArgmaxAndItsLogprob) {
  torch::Tensor logits = torch::tensor({{0.0f, 3.0f, 1.0f}, {2.0f, 0.0f, 0.0f}});
  SamplingParams params;
  params.greedy = true;
  auto out = SampleTokens(logits, params, {0, 1}, 0);
  EXPECT_EQ(out.tokens[0].item<int64_t>(), 1);
  EXPECT_EQ(out.tokens[1].item<int64_t>(), 0);
  EXPECT_NEAR(out.logprobs[0].item<float>(), torch::log_softmax(logits[0], 0)[1].item<float>(),
              1e-6);
}

TEST(Sampling, FrequenciesFollowTheTemperatureScaledDistribution) {
  torch::Tensor row = torch::tensor({1.0f, 2.0f, 0.5f, -1.0f});
  const int n = 20000;
  torch::Tensor logits = row.unsqueeze(0).expand({n, 4}).contiguous();
  std::vector<uint64_t> streams(n);
  for (int i = 0; i < n; ++i) streams[i] = i;
  SamplingParams params;
  params.temperature = 0.8;
  params.seed = 7;
  auto out = SampleTokens(logits, params, streams, 3);
  torch::Tensor expected = torch::softmax(row / 0.8, 0);
  for (int v = 0; v < 4; ++v) {
    double freq = (out.tokens == v).sum().item<int64_t>() / static_cast<double>(n);
    EXPECT_NEAR(freq, expected[v].item<float>(), 0.015) << "token " << v;
  }
  // The behaviour log-prob is that of the full temperature-scaled distribution.
  torch::Tensor logp = torch::log_softmax(row / 0.8, 0);
  EXPECT_NEAR(out.logprobs[0].item<float>(), logp[out.tokens[0].item<int64_t>()].item<float>(),
              1e-6);
}

TEST(Sampling, TopKAndTopPNeverPickOutsideTheKeptSet) {
  torch::Tensor row = torch::tensor({0.0f, 5.0f, 4.0f, 1.0f, 3.0f});
  const int n = 2000;
  torch::Tensor logits = row.unsqueeze(0).expand({n, 5}).contiguous();
  std::vector<uint64_t> streams(n);
  for (int i = 0; i < n; ++i) streams[i] = i;
  SamplingParams top_k;
  top_k.top_k = 2;
  auto k_out = SampleTokens(logits, top_k, streams, 0);
  EXPECT_TRUE(((k_out.tokens == 1) | (k_out.tokens == 2)).all().item<bool>());
  SamplingParams top_p;
  top_p.top_p = 0.5;  // p(1) ~ 0.64 alone reaches it
  auto p_out = SampleTokens(logits, top_p, streams, 0);
  EXPECT_TRUE((p_out.tokens == 1).all().item<bool>());
}

TEST(Sampling, DrawsDependOnStreamAndStepNotOnBatchPosition) {
  torch::manual_seed(1);
  torch::Tensor logits = torch::randn({4, 50});
  SamplingParams params;
  params.seed = 42;
  auto all = SampleTokens(logits, params, {10, 11, 12, 13}, 5);
  auto one = SampleTokens(logits.narrow(0, 2, 1), params, {12}, 5);
  EXPECT_EQ(all.tokens[2].item<int64_t>(), one.tokens[0].item<int64_t>());
  EXPECT_NE(CounterUniform(42, 12, 5), CounterUniform(42, 12, 6));
  EXPECT_NE(CounterUniform(42, 12, 5), CounterUniform(43, 12, 5));
}

}  // namespace
}  // namespace r1rl::kernels
