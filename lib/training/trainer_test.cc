// The trainers on a tiny random model: SFT lowers its loss, a GRPO step is consistent with
// the sampler (zero gap, zero KL before any update), the optimizer state round-trips, and
// bad options and data lines are reported by name.
#include <torch/torch.h>

#include "gtest/gtest.h"
#include "lib/model/causal_lm.h"
#include "lib/model/generator.h"
#include "lib/safetensors/scoped_temp_dir.h"
#include "lib/tokenizer/char_tokenizer.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/sft_data.h"
#include "lib/training/sft_trainer.h"
#include "lib/training/tiny_policy_test_util.h"

namespace r1rl::learner {
namespace {

OptimizerOptions Adam(double lr) {
  OptimizerOptions o;
  o.schedule.peak = lr;
  return o;
}

TEST(SftTrainer, LossFallsOnAFixedBatch) {
  auto policy = TinyPolicy(1);
  SftTrainer sft(policy.get(), Adam(3e-3), 0);
  std::vector<SftExample> batch = {{{1, 5, 6}, {7, 8, 9, 2}}, {{1, 10}, {11, 12, 2}}};
  const double before = *sft.Evaluate(batch);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(sft.Step(batch, 1).ok());
  const double after = *sft.Evaluate(batch);
  EXPECT_LT(after, 0.5 * before) << before << " -> " << after;
  EXPECT_FALSE(sft.Step({}).ok());
}

std::vector<Rollout> SampleRollouts(model::Policy* policy, int64_t groups, int64_t g) {
  model::GenerationOptions opts;
  opts.max_new_tokens = 6;
  opts.seed = 3;
  opts.ignore_eos = true;
  model::Generator gen(policy, nullptr, opts);
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = 0; i < groups; ++i) prompts.push_back({1, static_cast<int32_t>(3 + i)});
  auto completions = gen.Generate(prompts, g);
  EXPECT_TRUE(completions.ok()) << completions.status();
  std::vector<Rollout> out;
  for (const model::Completion& c : *completions) {
    Rollout r;
    r.group_id = c.prompt_index;
    r.prompt_ids = prompts[c.prompt_index];
    r.completion_ids = c.token_ids;
    r.behaviour_logprobs = c.logprobs;
    // Reward: how many 7s were sampled (a learnable preference).
    for (int32_t id : c.token_ids) r.reward += id == 7;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(GrpoTrainer, FirstStepAgreesWithSamplerAndRaisesReward) {
  auto policy = TinyPolicy(2);
  GrpoTrainerOptions o;
  o.loss.beta = 0.05;
  o.optimizer = Adam(1e-2);
  auto trainer = GrpoTrainer::Create(policy.get(), o);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto rollouts = SampleRollouts(policy.get(), 4, 8);
  auto m = (*trainer)->Step(&rollouts, 8);
  ASSERT_TRUE(m.ok()) << m.status();
  // One mini-batch, reference == policy, on-policy samples: the learner reproduces the
  // sampler's log-probs and the KL is zero.
  EXPECT_LT((*m)["logprob_gap_max"], 1e-4);
  EXPECT_LT((*m)["kl"], 1e-7);
  EXPECT_EQ((*m)["clip_frac_low"] + (*m)["clip_frac_high"], 0.0);
  EXPECT_GT((*m)["grad_norm"], 0.0);
  // More steps: the rewarded token's probability after the prompt rises.
  auto p7 = [&] {
    torch::NoGradGuard no_grad;
    torch::Tensor tokens = torch::tensor({{1, 3}}, torch::kInt64);
    torch::Tensor hidden = policy->lm().forward(tokens, torch::ones_like(tokens));
    return torch::softmax(policy->lm().Logits(hidden.select(1, 1)), -1)[0][7].item<double>();
  };
  const double before = p7();
  for (int step = 0; step < 10; ++step) {
    auto batch = SampleRollouts(policy.get(), 4, 8);
    ASSERT_TRUE((*trainer)->Step(&batch, 8).ok());
  }
  EXPECT_GT(p7(), before);
  std::vector<Rollout> bad = rollouts;
  bad[0].behaviour_logprobs.pop_back();
  auto err = (*trainer)->Step(&bad, 8);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("rollout 0"), std::string::npos) << err.status();
}

// Rows whose advantage is 0 are not forwarded when the KL is not in the loss, and the
// gradient is what it would be with them: with seq-mean-token-mean, half the rows without
// signal halve the gradient of the other half alone.
TEST(GrpoTrainer, RowsWithoutSignalCostNothingAndKeepTheGradient) {
  auto rollouts_of = [](model::Policy* policy) {
    std::vector<Rollout> r = SampleRollouts(policy, 4, 4);
    for (size_t i = 0; i < r.size(); ++i) r[i].reward = r[i].group_id < 2 ? i % 2 : 0.0;
    return r;
  };
  GrpoTrainerOptions o;
  o.loss.beta = 0.0;
  o.optimizer = Adam(1e-3);
  auto a = TinyPolicy(6);
  auto b = TinyPolicy(6);
  std::vector<Rollout> all = rollouts_of(a.get());
  std::vector<Rollout> signal(all.begin(), all.begin() + 8);
  double skipped = 0;
  for (size_t i = 8; i < all.size(); ++i) skipped += all[i].completion_ids.size();
  auto ta = GrpoTrainer::Create(a.get(), o);
  auto tb = GrpoTrainer::Create(b.get(), o);
  ASSERT_TRUE(ta.ok() && tb.ok());
  auto ma = (*ta)->Step(&all, 4);
  auto mb = (*tb)->Step(&signal, 4);
  ASSERT_TRUE(ma.ok() && mb.ok()) << ma.status() << mb.status();
  EXPECT_EQ((*ma)["tokens_skipped"], skipped);
  EXPECT_EQ((*mb)["tokens_skipped"], 0.0);
  EXPECT_GT((*mb)["grad_norm"], 0.0);
  EXPECT_NEAR((*ma)["grad_norm"], 0.5 * (*mb)["grad_norm"], 1e-5 * (*mb)["grad_norm"]);
  EXPECT_GT((*ma)["entropy"], 0.0);
  // No signal anywhere: nothing is forwarded, the step still counts.
  std::vector<Rollout> none = rollouts_of(a.get());
  for (Rollout& r : none) r.reward = 1.0;
  auto mn = (*ta)->Step(&none, 4);
  ASSERT_TRUE(mn.ok()) << mn.status();
  EXPECT_EQ((*mn)["grad_norm"], 0.0);
  EXPECT_EQ((*ta)->steps_done(), 2);
  // A fresh policy and trainer with `opts`, one step on the policy's own rollouts.
  auto fresh_step = [&](const GrpoTrainerOptions& opts) -> absl::StatusOr<Metrics> {
    auto policy = TinyPolicy(6);
    auto trainer = GrpoTrainer::Create(policy.get(), opts);
    if (!trainer.ok()) return trainer.status();
    std::vector<Rollout> rows = rollouts_of(policy.get());
    return (*trainer)->Step(&rows, 4);
  };
  // With the KL in the loss every row is forwarded (the KL pulls each towards the reference),
  // and the reference's log-probs, computed once, serve every mini-batch.
  o.loss.beta = 0.5;
  o.mini_batches = 2;
  o.optimizer = Adam(5e-2);
  auto mc = fresh_step(o);
  ASSERT_TRUE(mc.ok()) << mc.status();
  EXPECT_EQ((*mc)["tokens_skipped"], 0.0);
  EXPECT_GT((*mc)["kl"], 0.0);  // the second mini-batch sees the first update
  // The KL folded into the reward uses the same once-per-step reference log-probs: on-policy
  // with the reference equal to the policy, the penalty is zero.
  o.loss.kl_in_loss = false;
  auto md = fresh_step(o);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_LT(std::abs((*md)["kl_reward_penalty"]), 1e-5);
  EXPECT_GT((*md)["tokens_skipped"], 0.0);  // rows without signal are skipped again
}

TEST(GrpoTrainer, OptionsAreCheckedByName) {
  GrpoTrainerOptions o;
  o.loss.eps_low = 1.0;
  auto s = ValidateGrpoOptions(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("grpo.eps_low"), std::string::npos) << s;
  o = {};
  o.mini_batches = 0;
  EXPECT_NE(ValidateGrpoOptions(o).message().find("grpo.mini_batches"), std::string::npos);
  o = {};
  o.loss.aggregation = LossAggregation::kSeqMeanTokenSumNorm;
  EXPECT_NE(ValidateGrpoOptions(o).message().find("max_response_length"), std::string::npos);
  auto policy = TinyPolicy(3);
  GrpoTrainerOptions ok;
  ok.optimizer = Adam(1e-3);
  auto trainer = GrpoTrainer::Create(policy.get(), ok);
  ASSERT_TRUE(trainer.ok());
  std::vector<Rollout> odd(3);
  for (auto& r : odd) {
    r.prompt_ids = {1};
    r.completion_ids = {4};
    r.behaviour_logprobs = {-1.0f};
  }
  EXPECT_FALSE((*trainer)->Step(&odd, 2).ok());  // 3 is not a whole number of groups of 2
}

TEST(Optimizer, StateRoundTripsThroughSafetensors) {
  safetensors::ScopedTempDir dir;
  auto a = TinyPolicy(4);
  auto b = TinyPolicy(4);
  Optimizer oa(a->lm(), Adam(1e-2));
  Optimizer ob(b->lm(), Adam(1e-2));
  auto loss_step = [](model::Policy* p, Optimizer* o) {
    o->ZeroGrad();
    torch::Tensor tokens = torch::tensor({{1, 5, 6, 7}}, torch::kInt64);
    p->lm().forward(tokens, torch::ones_like(tokens)).pow(2).mean().backward();
    o->Step();
  };
  loss_step(a.get(), &oa);
  ASSERT_TRUE(oa.Save(dir.path() + "/opt.safetensors").ok());
  CopyWeights(*a, b.get());
  ASSERT_TRUE(ob.Load(dir.path() + "/opt.safetensors").ok());
  EXPECT_EQ(ob.steps_taken(), 1);
  loss_step(a.get(), &oa);
  loss_step(b.get(), &ob);
  auto pa = a->lm().parameters();
  auto pb = b->lm().parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-6, 1e-7)) << i;
  EXPECT_FALSE(ob.Load(dir.path() + "/missing.safetensors").ok());
}

TEST(SftData, RowsAndErrorsByLine) {
  auto tok = tokenizer::CharTokenizer::Create({});
  ASSERT_TRUE(tok.ok());
  auto rows = ParseSftJsonl(
      "{\"prompt\":\"1+1=\",\"response\":\"2\"}\n\n{\"prompt\":\"a\",\"response\":\"b\"}\n",
      "d.jsonl", **tok, tokenizer::PromptFormat::kRaw, "", 2);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].response_ids.back(), 2);
  auto bad = [&](const std::string& text, const std::string& want) {
    auto r = ParseSftJsonl(text, "d.jsonl", **tok, tokenizer::PromptFormat::kRaw, "", 2);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status();
  };
  bad("{\"prompt\":\"a\",\"response\":\"b\"}\nnot json\n", "d.jsonl line 2: not valid JSON");
  bad("{\"prompt\":\"a\"}\n", "line 1: missing field \"response\"");
  bad("{\"prompt\":1,\"response\":\"b\"}\n", "field \"prompt\" is not a string");
  bad("[1]\n", "not a JSON object");
  bad("\n", "no examples");
}

}  // namespace
}  // namespace r1rl::learner
