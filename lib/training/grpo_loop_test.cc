// The checkpoint format (atomic folders, retention, state, the moving KL reference) and the
// GRPO loop over it: a run stopped mid-way and resumed from its newest checkpoint ends with
// the same per-step KL and weights as a run that never stopped.
#include "lib/training/grpo_loop.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "lib/model/causal_lm.h"
#include "lib/model/generator.h"
#include "lib/model/policy.h"
#include "lib/safetensors/scoped_temp_dir.h"
#include "lib/training/checkpoint.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/tiny_policy_test_util.h"

namespace r1rl::learner {
namespace {

namespace fs = std::filesystem;

GrpoTrainerOptions Options() {
  GrpoTrainerOptions o;
  o.loss.beta = 0.1;
  o.ref_update_every = 2;  // the reference moves: a checkpoint must carry it
  o.optimizer.schedule.peak = 2e-2;
  return o;
}

std::vector<float> Flat(const model::Policy& p) {
  std::vector<float> out;
  for (const auto& t : p.lm().parameters()) {
    torch::Tensor c = t.detach().to(torch::kFloat32).contiguous().view(-1);
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

// Samples 4 prompts x 8 with the policy itself, draws seeded by the step; reward: the 7s.
class StepSeededSource : public RolloutSource {
 public:
  explicit StepSeededSource(model::Policy* policy) : policy_(policy) {}
  absl::StatusOr<std::optional<RolloutBatch>> Next(int64_t step,
                                                   const std::function<absl::Status()>&) override {
    model::GenerationOptions opts;
    opts.max_new_tokens = 6;
    opts.seed = 100 + static_cast<uint64_t>(step);
    opts.ignore_eos = true;
    model::Generator gen(policy_, nullptr, opts);
    std::vector<std::vector<int32_t>> prompts;
    for (int32_t i = 0; i < 4; ++i) prompts.push_back({1, 3 + i});
    auto completions = gen.Generate(prompts, 8);
    if (!completions.ok()) return completions.status();
    RolloutBatch b;
    b.group_size = 8;
    for (const model::Completion& c : *completions) {
      Rollout r;
      r.group_id = c.prompt_index;
      r.prompt_ids = prompts[c.prompt_index];
      r.completion_ids = c.token_ids;
      r.behaviour_logprobs = c.logprobs;
      r.policy_version = step;
      for (int32_t id : c.token_ids) r.reward += id == 7;
      b.rollouts.push_back(std::move(r));
    }
    b.stats["reward"] = 0;
    return b;
  }
  absl::Status Trained(int64_t version, const RolloutBatch&) override {
    versions.push_back(version);
    return absl::OkStatus();
  }
  std::map<std::string, int64_t> ResumePoint() const override {
    return {{"data_position", 4 * static_cast<int64_t>(versions.size())}};
  }
  std::vector<int64_t> versions;

 private:
  model::Policy* policy_;
};

TEST(CheckpointStore, KeepsTheNewestAndFinalAndReadsStateBack) {
  r1rl::safetensors::ScopedTempDir tmp;
  auto policy = TinyPolicy(1);
  CheckpointStore store(tmp.path() + "/ck", 2);
  EXPECT_EQ(*store.Latest(), "");  // no folder yet: no checkpoint
  for (int64_t step = 1; step <= 5; ++step) {
    CheckpointState st;
    st.step = st.policy_version = step;
    st.seed = 9;
    st.resume["data_position"] = step * 4;
    auto dir = store.Save("step-" + std::to_string(step), {policy.get(), nullptr, nullptr, ""}, st);
    ASSERT_TRUE(dir.ok()) << dir.status();
  }
  CheckpointState fin;
  fin.step = 3;  // a final of an earlier step than step-5 is not the latest
  ASSERT_TRUE(store.Save("final", {policy.get(), nullptr, nullptr, ""}, fin).ok());
  // A half-written save and a folder without state.json are no checkpoints.
  fs::create_directories(tmp.path() + "/ck/.tmp-step-6");
  fs::create_directories(tmp.path() + "/ck/step-7");
  std::vector<std::string> steps = store.StepCheckpoints();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(fs::path(steps[0]).filename(), "step-4");
  EXPECT_EQ(fs::path(steps[1]).filename(), "step-5");
  EXPECT_TRUE(IsCheckpoint(tmp.path() + "/ck/final"));
  EXPECT_EQ(*store.Latest(), tmp.path() + "/ck/step-5");
  auto st = ReadCheckpointState(tmp.path() + "/ck/step-5");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->step, 5);
  EXPECT_EQ(st->seed, 9u);
  EXPECT_EQ(st->resume.at("data_position"), 20);

  std::ofstream(tmp.path() + "/ck/step-5/state.json") << "{\"step\": 5}";
  auto bad = ReadCheckpointState(tmp.path() + "/ck/step-5");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("format"), std::string::npos) << bad.status();
  auto other = model::Policy::RandomInit(
      [] {
        model::ModelConfig c = TinyConfig();
        c.hidden_size = 64;
        c.head_dim = 16;
        return c;
      }(),
      1, {});
  ASSERT_TRUE(other.ok());
  auto wrong = LoadCheckpoint(tmp.path() + "/ck/step-4", other->get(), nullptr, nullptr);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
}

// Runs `steps` steps from the seed-5 policy, resuming from `resume_from` when given; stops
// with an error after step `crash_after` (0: never), like a killed process: no final save.
struct RunResult {
  std::vector<double> kl;  // per step, by step number - 1
  std::vector<float> weights;
  int64_t resumed_at = 0;
  absl::Status status;
};

RunResult TrainRun(const std::string& root, int64_t steps, int64_t crash_after, bool resume) {
  RunResult run;
  run.kl.assign(static_cast<size_t>(steps), -1.0);
  auto policy = TinyPolicy(5);
  auto trainer = GrpoTrainer::Create(policy.get(), Options());
  EXPECT_TRUE(trainer.ok());
  StepSeededSource source(policy.get());
  GrpoLoopOptions lo;
  lo.steps = steps;
  lo.seed = 5;
  lo.checkpoint_root = root;
  lo.checkpoint_every = 2;
  lo.checkpoint_keep = 2;
  if (resume) lo.resume_from = *CheckpointStore(root, 2).Latest();
  GrpoLoopHooks hooks;
  hooks.on_step = [&](int64_t step, Metrics& m) -> absl::Status {
    run.kl[static_cast<size_t>(step - 1)] = m.at("kl");
    if (step == crash_after) return absl::AbortedError("killed");
    return absl::OkStatus();
  };
  GrpoLoop loop(policy.get(), trainer->get(), &source, lo, hooks);
  auto result = loop.Run();
  run.status = result.status();
  if (result.ok()) run.resumed_at = result->resumed_at;
  run.weights = Flat(*policy);
  return run;
}

TEST(GrpoLoop, ResumedRunEqualsUninterruptedRun) {
  r1rl::safetensors::ScopedTempDir tmp;
  const RunResult whole = TrainRun(tmp.path() + "/a", 6, 0, false);
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  EXPECT_TRUE(IsCheckpoint(tmp.path() + "/a/final"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/a/step-4/reference/model.safetensors"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/a/step-4/optimizer.safetensors"));
  EXPECT_EQ(ReadCheckpointState(tmp.path() + "/a/step-4")->resume.at("data_position"), 16);
  EXPECT_GT(whole.kl[5], 0.0);  // step 6: the policy moved away from its step-4 reference

  const RunResult killed = TrainRun(tmp.path() + "/b", 6, 5, false);  // dies after step 5
  ASSERT_EQ(killed.status.code(), absl::StatusCode::kAborted);
  EXPECT_FALSE(IsCheckpoint(tmp.path() + "/b/final"));
  const RunResult resumed = TrainRun(tmp.path() + "/b", 6, 0, true);  // from step-4
  ASSERT_TRUE(resumed.status.ok()) << resumed.status;
  EXPECT_EQ(resumed.resumed_at, 4);
  for (int64_t s = 5; s <= 6; ++s) {
    EXPECT_EQ(resumed.kl[static_cast<size_t>(s - 1)], whole.kl[static_cast<size_t>(s - 1)])
        << "step " << s;
  }
  EXPECT_EQ(resumed.weights, whole.weights);
}

}  // namespace
}  // namespace r1rl::learner
