#include "lib/pipeline/grpo_run.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/data/prompt_dataset.h"
#include "lib/model/generation_config.h"
#include "lib/model/generator.h"
#include "lib/model/policy.h"
#include "lib/rewards/grader.h"
#include "lib/rewards/reward_spec.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/training/advantages.h"
#include "lib/training/checkpoint.h"
#include "lib/training/grpo_loop.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/learner_config.h"

namespace r1rl::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::string id, prompt;
  reward::RewardSpec spec;
};

absl::StatusOr<std::vector<Row>> LoadRows(const std::string& path) {
  ASSIGN_OR_RETURN(learner::PromptDataset dataset, learner::PromptDataset::Load(path));
  std::vector<Row> rows;
  while (auto r = dataset.Next()) {
    ASSIGN_OR_RETURN(reward::RewardSpec spec,
                     reward::ParseRewardSpec(nlohmann::json::parse(r->reward_json)));
    rows.push_back({r->prompt_id, r->prompt, std::move(spec)});
  }
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  return rows;
}

// The rl stage's rollouts: step N samples rows [N * per_step, (N + 1) * per_step) of the
// prompt set (modulo its size) with the current policy and the seed of step N, and grades
// them, all in turn on this thread. With grpo.dynamic_sampling (DAPO) a group whose rewards
// are all equal (no signal) is dropped and further rows are drawn, up to
// kMaxResampleRounds more samplings a step (the last round's groups are kept whatever their
// rewards); the rows then run ahead of N * per_step, so the position of the next row is the
// source's resume point ("prompt_cursor" in the checkpoint).
constexpr int64_t kMaxResampleRounds = 4;

class SequentialSource : public learner::RolloutSource {
 public:
  SequentialSource(const config::Config& cfg, model::Policy* policy,
                   const tokenizer::Tokenizer& tok, const TrainingRun& run, std::vector<Row> rows,
                   reward::GraderOptions gopt)
      : policy_(policy),
        tok_(tok),
        run_(run),
        rows_(std::move(rows)),
        gopt_(gopt),
        grader_(gopt),
        gen_(model::GenerationOptionsFromConfig(cfg)),
        per_step_(cfg.GetInt("grpo.prompts_per_step")),
        group_(cfg.GetInt("generation.num_samples")),
        overlong_cache_(cfg.GetInt("grpo.overlong_cache_length")),
        dynamic_(cfg.GetBool("grpo.dynamic_sampling")),
        system_(cfg.GetString("prompt.system")) {}

  absl::StatusOr<std::optional<learner::RolloutBatch>> Next(
      int64_t step, const std::function<absl::Status()>&) override {
    const auto start = Clock::now();
    if (!dynamic_ || cursor_ < 0) cursor_ = step * per_step_;
    learner::RolloutBatch out;
    out.group_size = group_;
    int64_t dropped = 0, kept = 0;
    double reward = 0, accuracy = 0, format = 0, length = 0, truncated = 0;
    for (int64_t round = 0; round <= (dynamic_ ? kMaxResampleRounds : 0) && kept < per_step_;
         ++round) {
      std::vector<const Row*> batch;
      std::vector<std::vector<int32_t>> prompts;
      RETURN_IF_ERROR(Draw(per_step_ - kept, &batch, &prompts));
      model::GenerationOptions gen = gen_;
      gen.seed = gen_.seed * 1000003 + static_cast<uint64_t>(step) + 7919 * round;
      model::Generator generator(policy_, &tok_, gen);
      ASSIGN_OR_RETURN(std::vector<model::Completion> completions,
                       generator.Generate(prompts, group_));
      for (size_t p = 0; p < batch.size(); ++p) {
        std::vector<learner::Rollout> group;
        std::vector<double> rewards;
        for (int64_t k = 0; k < group_; ++k) {
          group.push_back(Grade(&completions[p * group_ + k], *batch[p], prompts[p], step));
          rewards.push_back(group.back().reward);
        }
        if (dynamic_ && round < kMaxResampleRounds && !learner::GroupHasSignal(rewards)) {
          ++dropped;
          continue;
        }
        for (learner::Rollout& ro : group) {
          ro.group_id = kept;
          reward += ro.reward;
          accuracy +=
              ro.reward_components.count("accuracy") ? ro.reward_components["accuracy"] : 0.0;
          format += ro.reward_components["format"];
          length += static_cast<double>(ro.completion_ids.size());
          truncated += ro.truncated;
          out.rollouts.push_back(std::move(ro));
        }
        ++kept;
      }
    }
    const double sample_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double n = static_cast<double>(out.rollouts.size());
    out.stats["reward"] = reward / n;
    out.stats["reward/accuracy"] = accuracy / n;
    out.stats["reward/format"] = format / n;
    out.stats["response_length"] = length / n;
    out.stats["truncation_ratio"] = truncated / n;
    out.stats["sample_seconds"] = sample_seconds;
    if (dynamic_) out.stats["groups_dropped"] = static_cast<double>(dropped);
    return out;
  }

  std::map<std::string, int64_t> ResumePoint() const override {
    if (!dynamic_) return {};
    return {{"prompt_cursor", cursor_}};
  }
  // A resumed run continues at the checkpoint's prompt_cursor (dynamic sampling).
  void ResumeAt(const learner::CheckpointState& state) {
    auto it = state.resume.find("prompt_cursor");
    cursor_ = dynamic_ && it != state.resume.end() ? it->second : -1;
  }

  absl::Status Trained(int64_t, const learner::RolloutBatch&) override {
    return absl::OkStatus();  // the next step samples with the policy itself
  }

 private:
  // The next `count` rows from the cursor (modulo the prompt set), their prompts encoded.
  absl::Status Draw(int64_t count, std::vector<const Row*>* batch,
                    std::vector<std::vector<int32_t>>* prompts) {
    const int64_t max_new = gen_.max_new_tokens;
    const int64_t max_len = policy_->config().max_position_embeddings;
    for (int64_t i = 0; i < count; ++i, ++cursor_) {
      const Row& r = rows_[static_cast<size_t>(cursor_ % static_cast<int64_t>(rows_.size()))];
      batch->push_back(&r);
      prompts->push_back(tok_.Encode(tokenizer::RenderPrompt(run_.format, r.prompt, system_)));
      if (static_cast<int64_t>(prompts->back().size()) + max_new > max_len) {
        return absl::InvalidArgumentError(
            absl::StrCat(run_.data, " prompt ", r.id, ": ", prompts->back().size(),
                         " tokens + generation.max_new_tokens ", max_new,
                         " exceed the model's max_position_embeddings ", max_len));
      }
    }
    return absl::OkStatus();
  }

  // One completion graded into a rollout (reward shaping: a cut response is not well
  // formed; DAPO's overlong penalty).
  learner::Rollout Grade(model::Completion* c, const Row& r, const std::vector<int32_t>& prompt,
                         int64_t step) {
    const reward::Grade g = grader_.Score(c->text, r.spec);
    learner::Rollout ro;
    ro.prompt_ids = prompt;
    ro.truncated = c->finish_reason != model::FinishReason::kStop;
    ro.reward_components = g.components;
    ro.reward = g.reward;
    if (ro.truncated && g.components.count("format")) {
      ro.reward -= gopt_.format_weight * g.components.at("format");
      ro.reward_components["format"] = 0.0;
    }
    const double overlong = learner::OverlongPenalty(static_cast<int64_t>(c->token_ids.size()),
                                                     gen_.max_new_tokens, overlong_cache_);
    ro.reward_components["overlong"] = overlong;
    ro.reward += overlong;
    ro.completion_ids = std::move(c->token_ids);
    ro.behaviour_logprobs = std::move(c->logprobs);
    ro.policy_version = step;
    return ro;
  }

  model::Policy* policy_;
  const tokenizer::Tokenizer& tok_;
  const TrainingRun& run_;
  std::vector<Row> rows_;
  reward::GraderOptions gopt_;
  reward::Grader grader_;
  model::GenerationOptions gen_;
  int64_t per_step_, group_, overlong_cache_;
  bool dynamic_;
  std::string system_;
  int64_t cursor_ = -1;  // the next row to draw; -1: step * per_step (no resume point)
};

}  // namespace

absl::StatusOr<learner::Metrics> RunGrpo(const config::Config& cfg, model::Policy* policy,
                                         const tokenizer::Tokenizer& tok, const TrainingRun& run) {
  const int64_t steps = cfg.GetInt("grpo.steps"), per_step = cfg.GetInt("grpo.prompts_per_step");
  const int64_t group = cfg.GetInt("generation.num_samples");
  if (steps < 1)
    return absl::InvalidArgumentError(absl::StrCat("grpo.steps = ", steps, ": must be >= 1"));
  if (per_step < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("grpo.prompts_per_step = ", per_step, ": must be >= 1"));
  if (group < 2)
    return absl::InvalidArgumentError(
        absl::StrCat("generation.num_samples = ", group, ": GRPO needs a group of at least 2"));
  ASSIGN_OR_RETURN(std::vector<Row> rows, LoadRows(run.data));
  ASSIGN_OR_RETURN(reward::GraderOptions gopt, reward::GraderOptionsFromConfig(cfg));
  ASSIGN_OR_RETURN(learner::GrpoTrainerOptions topt, learner::GrpoOptionsFromConfig(cfg));
  const auto& eos = policy->config().eos_token_ids;
  topt.pad_id = eos.empty() ? 0 : static_cast<int32_t>(eos.front());
  topt.optimizer.schedule.total_steps = steps * topt.ppo_epochs * topt.mini_batches;
  ASSIGN_OR_RETURN(auto trainer,
                   learner::GrpoTrainer::Create(policy, topt));  // reference = the input model
  SequentialSource source(cfg, policy, tok, run, std::move(rows), gopt);
  learner::GrpoLoopOptions lo;
  lo.steps = steps;
  lo.seed = model::GenerationOptionsFromConfig(cfg).seed;
  lo.final_checkpoint = false;  // the stage's output is the trained model (run.out)
  if (!run.checkpoint_dir.empty()) {
    lo.checkpoint_root = run.checkpoint_dir;
    lo.checkpoint_every = run.checkpoint_every;
    lo.checkpoint_keep = run.checkpoint_keep;
    lo.tokenizer_path = run.tokenizer_path;
    ASSIGN_OR_RETURN(lo.resume_from,
                     learner::CheckpointStore(run.checkpoint_dir, run.checkpoint_keep).Latest());
  }
  learner::GrpoLoopHooks hooks;
  hooks.on_step = [&](int64_t, learner::Metrics& m) {
    if (run.on_step) run.on_step(m);
    return absl::OkStatus();
  };
  hooks.on_resume = [&](const std::string&, const learner::CheckpointState& s) {
    source.ResumeAt(s);
    if (run.on_resume) run.on_resume(s.step);
  };
  learner::GrpoLoop loop(policy, trainer.get(), &source, lo, hooks);
  ASSIGN_OR_RETURN(learner::GrpoLoopResult result, loop.Run());
  RETURN_IF_ERROR(SaveTrainedModel(run, *policy, trainer->optimizer()));
  return result.last;
}

}  // namespace r1rl::pipeline
