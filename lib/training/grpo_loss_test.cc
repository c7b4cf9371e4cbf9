// The GRPO loss and advantages against PyTorch (tests/fixtures/grpo, written by
// tools/fixtures/make_grpo_fixtures.py), and a toy bandit that checks the update direction
// and size against the arithmetic.
#include "lib/training/grpo_loss.h"

#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "gtest/gtest.h"
#include "lib/model/test_paths.h"
#include "lib/safetensors/safetensors.h"
#include "lib/training/advantages.h"
#include "nlohmann/json.hpp"

namespace r1rl::learner {
namespace {

using safetensors::SafetensorsFile;

torch::Tensor Read(const SafetensorsFile& file, const std::string& name) {
  const safetensors::TensorView* view = file.Find(name);
  if (view == nullptr) return {};
  auto type = view->dtype == safetensors::DType::kF64 ? torch::kFloat64 : torch::kFloat32;
  return torch::from_blob(const_cast<uint8_t*>(view->data), view->shape, type).clone();
}

class GrpoLossMatchesPyTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = model::SourceDir() + "/tests/fixtures/grpo";
    auto file = SafetensorsFile::Open(dir + "/grpo_cases.safetensors");
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = std::move(*file);
    std::ifstream in(dir + "/grpo_cases.json");
    cases_ = nlohmann::json::parse(in);
  }
  std::unique_ptr<SafetensorsFile> file_;
  nlohmann::json cases_;
};

TEST_F(GrpoLossMatchesPyTorch, LossAndGradientWithinOneInHundredThousand) {
  ASSERT_GE(cases_.size(), 8u);
  for (auto& [name, o] : cases_.items()) {
    SCOPED_TRACE(name);
    GrpoLossOptions opt;
    opt.eps_low = o.value("eps_low", 0.2);
    opt.eps_high = o.value("eps_high", 0.2);
    opt.beta = o.value("beta", 0.0);
    opt.kl_estimator = *ParseKlEstimator(o.value("kl", std::string("k3")));
    opt.aggregation =
        *ParseLossAggregation(o.value("aggregation", std::string("seq-mean-token-mean")));
    opt.max_response_length = o.value("max_response_length", 0);
    opt.tis_cap = o.value("tis_cap", 0.0);
    opt.sequence_ratio = o.value("sequence_ratio", false);

    torch::Tensor rewards = Read(*file_, name + "/rewards");
    std::vector<double> r(rewards.data_ptr<double>(), rewards.data_ptr<double>() + rewards.numel());
    AdvantageOptions aopt;
    aopt.scale_rewards = o.value("scale_rewards", true);
    auto adv = GroupAdvantages(r, o["group_size"].get<int64_t>(), aopt);
    ASSERT_TRUE(adv.ok()) << adv.status();
    torch::Tensor expected_adv = Read(*file_, name + "/advantages");
    for (size_t i = 0; i < adv->size(); ++i) {
      EXPECT_NEAR((*adv)[i], expected_adv[i].item<double>(), 1e-9) << "advantage " << i;
    }

    GrpoLossInputs in;
    in.logprobs = Read(*file_, name + "/logprobs").requires_grad_(true);
    in.behaviour_logprobs = Read(*file_, name + "/behaviour_logprobs");
    in.old_logprobs = Read(*file_, name + "/old_logprobs");
    in.ref_logprobs = Read(*file_, name + "/ref_logprobs");
    in.mask = Read(*file_, name + "/mask");
    in.advantages = torch::tensor(*adv, torch::kFloat64).to(torch::kFloat32);
    auto result = GrpoLoss(in, opt);
    ASSERT_TRUE(result.ok()) << result.status();
    result->loss.backward();
    const double expected_loss = Read(*file_, name + "/loss").item<double>();
    EXPECT_NEAR(result->loss.item<double>(), expected_loss, 1e-5);
    torch::Tensor grad = in.logprobs.grad().to(torch::kFloat64);
    torch::Tensor expected_grad = Read(*file_, name + "/grad");
    EXPECT_LT((grad - expected_grad).abs().max().item<double>(), 1e-5);
  }
}

TEST(GrpoLossErrors, NameTheTensor) {
  GrpoLossInputs in;
  in.logprobs = torch::zeros({2, 3});
  in.behaviour_logprobs = torch::zeros({2, 4});
  in.mask = torch::ones({2, 3});
  in.advantages = torch::zeros({2});
  auto r = GrpoLoss(in, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("behaviour_logprobs"), std::string::npos) << r.status();
  in.behaviour_logprobs = torch::zeros({2, 3});
  GrpoLossOptions opt;
  opt.beta = 0.1;
  r = GrpoLoss(in, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ref_logprobs"), std::string::npos) << r.status();
  EXPECT_FALSE(ParseKlEstimator("k4").ok());
  EXPECT_FALSE(ParseLossAggregation("mean").ok());
}

TEST(Advantages, GroupsAndShaping) {
  EXPECT_FALSE(GroupAdvantages(std::vector<double>{1, 2, 3}, 2, {}).ok());
  EXPECT_FALSE(GroupAdvantages(std::vector<double>{1, 2}, 0, {}).ok());
  auto a = GroupAdvantages(std::vector<double>{1, 1, 0, 2}, 2, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)[0], 0.0);
  EXPECT_NEAR((*a)[3], 1.0 / std::sqrt(2.0), 1e-5);
  EXPECT_FALSE(GroupHasSignal(std::vector<double>{1, 1, 1}));
  EXPECT_TRUE(GroupHasSignal(std::vector<double>{1, 0, 1}));
  EXPECT_EQ(OverlongPenalty(10, 20, 5), 0.0);
  EXPECT_EQ(OverlongPenalty(15, 20, 5), 0.0);
  EXPECT_DOUBLE_EQ(OverlongPenalty(18, 20, 5), -0.6);
  EXPECT_EQ(OverlongPenalty(25, 20, 5), -1.0);
  EXPECT_EQ(OverlongPenalty(25, 20, 0), 0.0);
}

// A one-token bandit: policy softmax(theta) over K arms, reward 1 for arm 0. With the
// samples' log-probs taken at the current theta (on-policy, so rho = 1 and nothing is
// clipped) and no KL, the GRPO gradient of one group is
//   dL/dtheta = -(1/G) sum_i A_i (onehot(a_i) - p),
// so one SGD step with rate lr moves theta by lr * (1/G) sum_i A_i onehot(a_i) (the p term
// cancels because the advantages sum to zero). The test checks the step equals that and
// that a few steps raise p(arm 0) monotonically.
TEST(GrpoBandit, StepMatchesArithmeticAndRaisesRewardedArm) {
  const int64_t k = 4, g = 8;
  const double lr = 0.5;
  torch::Tensor theta = torch::zeros({k}, torch::kFloat64).requires_grad_(true);
  torch::manual_seed(7);
  double last_p0 = 1.0 / k;
  for (int step = 0; step < 6; ++step) {
    torch::Tensor logp_all = torch::log_softmax(theta, 0);
    torch::Tensor arms = torch::multinomial(logp_all.detach().exp(), g, /*replacement=*/true);
    // Make sure the group has signal: arm 0 once and another arm once.
    arms[0] = 0;
    arms[1] = 1;
    std::vector<double> rewards(g);
    for (int64_t i = 0; i < g; ++i) rewards[i] = arms[i].item<int64_t>() == 0 ? 1.0 : 0.0;
    auto adv = GroupAdvantages(rewards, g, {});
    ASSERT_TRUE(adv.ok());

    GrpoLossInputs in;
    in.logprobs = logp_all.index_select(0, arms).unsqueeze(1);  // (G, 1)
    in.behaviour_logprobs = in.logprobs.detach().clone();
    in.mask = torch::ones({g, 1}, torch::kFloat64);
    in.advantages = torch::tensor(*adv, torch::kFloat64);
    auto result = GrpoLoss(in, {});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->stats.clip_frac_low + result->stats.clip_frac_high, 0.0);
    theta.mutable_grad() = torch::Tensor();
    result->loss.backward();

    torch::Tensor expected_step = torch::zeros({k}, torch::kFloat64);
    for (int64_t i = 0; i < g; ++i) expected_step[arms[i].item<int64_t>()] += (*adv)[i] / g;
    expected_step *= lr;
    torch::Tensor step_taken = -lr * theta.grad();
    EXPECT_LT((step_taken - expected_step).abs().max().item<double>(), 1e-12) << "step " << step;
    {
      torch::NoGradGuard no_grad;
      theta -= lr * theta.grad();
    }
    const double p0 = torch::softmax(theta, 0)[0].item<double>();
    EXPECT_GT(p0, last_p0) << "step " << step;
    last_p0 = p0;
  }
  EXPECT_GT(last_p0, 0.6);
}

}  // namespace
}  // namespace r1rl::learner
