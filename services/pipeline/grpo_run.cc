#include "services/pipeline/grpo_run.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "services/learner/advantages.h"
#include "services/learner/grpo_trainer.h"
#include "services/learner/learner_config.h"
#include "services/learner/prompt_dataset.h"
#include "services/model/generation_config.h"
#include "services/model/generator.h"
#include "services/model/policy.h"
#include "services/pipeline/stage_checkpoint.h"
#include "services/reward_grader/grader.h"
#include "services/reward_grader/reward_spec.h"
#include "services/status/status_macros.h"
#include "services/tokenizer/tokenizer.h"

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
    ASSIGN_OR_RETURN(reward::RewardSpec spec, reward::ParseRewardSpec(nlohmann::json::parse(r->reward_json)));
    rows.push_back({r->prompt_id, r->prompt, std::move(spec)});
  }
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  return rows;
}

}  // namespace

absl::StatusOr<learner::Metrics> RunGrpo(const config::Config& cfg, model::Policy* policy,
                                         const tokenizer::Tokenizer& tok, const TrainingRun& run) {
  const int64_t steps = cfg.GetInt("grpo.steps"), per_step = cfg.GetInt("grpo.prompts_per_step");
  const int64_t group = cfg.GetInt("generation.num_samples");
  if (steps < 1) return absl::InvalidArgumentError(absl::StrCat("grpo.steps = ", steps, ": must be >= 1"));
  if (per_step < 1) return absl::InvalidArgumentError(absl::StrCat("grpo.prompts_per_step = ", per_step, ": must be >= 1"));
  if (group < 2) return absl::InvalidArgumentError(absl::StrCat("generation.num_samples = ", group, ": GRPO needs a group of at least 2"));
  ASSIGN_OR_RETURN(std::vector<Row> rows, LoadRows(run.data));
  ASSIGN_OR_RETURN(reward::GraderOptions gopt, reward::GraderOptionsFromConfig(cfg));
  const reward::Grader grader(gopt);
  ASSIGN_OR_RETURN(learner::GrpoTrainerOptions topt, learner::GrpoOptionsFromConfig(cfg));
  const auto& eos = policy->config().eos_token_ids;
  topt.pad_id = eos.empty() ? 0 : static_cast<int32_t>(eos.front());
  topt.optimizer.schedule.total_steps = steps * topt.ppo_epochs * topt.mini_batches;
  ASSIGN_OR_RETURN(auto trainer, learner::GrpoTrainer::Create(policy, topt));  // reference = the input model
  int64_t step = 0;
  // The reference moves when ref_update_every > 0: then the checkpoint carries it.
  model::Policy* moving_reference = topt.ref_update_every > 0 ? trainer->reference() : nullptr;
  if (!run.checkpoint_dir.empty()) {
    ASSIGN_OR_RETURN(step, LoadStageCheckpoint(run.checkpoint_dir, policy, &trainer->optimizer(), moving_reference));
    trainer->set_steps_done(step);
    if (step > 0 && run.on_resume) run.on_resume(step);
  }
  model::GenerationOptions gen = model::GenerationOptionsFromConfig(cfg);
  const uint64_t seed = gen.seed;
  const int64_t max_new = gen.max_new_tokens, overlong_cache = cfg.GetInt("grpo.overlong_cache_length");
  const std::string system = cfg.GetString("prompt.system");
  const int64_t max_len = policy->config().max_position_embeddings;
  learner::Metrics last;
  for (; step < steps; ++step) {
    const auto start = Clock::now();
    std::vector<const Row*> batch;
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = 0; i < per_step; ++i) {
      const Row& r = rows[static_cast<size_t>((step * per_step + i) % static_cast<int64_t>(rows.size()))];
      batch.push_back(&r);
      prompts.push_back(tok.Encode(tokenizer::RenderPrompt(run.format, r.prompt, system)));
      if (static_cast<int64_t>(prompts.back().size()) + max_new > max_len) {
        return absl::InvalidArgumentError(absl::StrCat(run.data, " prompt ", r.id, ": ", prompts.back().size(),
                                                       " tokens + generation.max_new_tokens ", max_new,
                                                       " exceed the model's max_position_embeddings ", max_len));
      }
    }
    gen.seed = seed * 1000003 + static_cast<uint64_t>(step);
    model::Generator generator(policy, &tok, gen);
    ASSIGN_OR_RETURN(std::vector<model::Completion> completions, generator.Generate(prompts, group));
    const double sample_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<learner::Rollout> rollouts;
    double reward = 0, accuracy = 0, format = 0, length = 0, truncated = 0;
    for (model::Completion& c : completions) {
      const Row& r = *batch[static_cast<size_t>(c.prompt_index)];
      const reward::Grade g = grader.Score(c.text, r.spec);
      learner::Rollout ro;
      ro.group_id = c.prompt_index;
      ro.prompt_ids = prompts[static_cast<size_t>(c.prompt_index)];
      ro.truncated = c.finish_reason != model::FinishReason::kStop;
      ro.reward_components = g.components;
      ro.reward = g.reward;
      if (ro.truncated && g.components.count("format")) {  // a cut response is not well formed
        ro.reward -= gopt.format_weight * g.components.at("format");
        ro.reward_components["format"] = 0.0;
      }
      const double overlong = learner::OverlongPenalty(static_cast<int64_t>(c.token_ids.size()), max_new, overlong_cache);
      ro.reward_components["overlong"] = overlong;
      ro.reward += overlong;
      ro.completion_ids = std::move(c.token_ids);
      ro.behaviour_logprobs = std::move(c.logprobs);
      ro.policy_version = step;
      reward += ro.reward;
      accuracy += ro.reward_components.count("accuracy") ? ro.reward_components["accuracy"] : 0.0;
      format += ro.reward_components["format"];
      length += static_cast<double>(ro.completion_ids.size());
      truncated += ro.truncated;
      rollouts.push_back(std::move(ro));
    }
    ASSIGN_OR_RETURN(last, trainer->Step(&rollouts, group));
    const double n = static_cast<double>(rollouts.size());
    last["step"] = static_cast<double>(step + 1);
    last["reward"] = reward / n;
    last["reward/accuracy"] = accuracy / n;
    last["reward/format"] = format / n;
    last["response_length"] = length / n;
    last["truncation_ratio"] = truncated / n;
    last["sample_seconds"] = sample_seconds;
    last["step_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    if (run.on_step) run.on_step(last);
    if (CheckpointDue(run, step + 1, steps)) {
      RETURN_IF_ERROR(SaveStageCheckpoint(run.checkpoint_dir, *policy, trainer->optimizer(), step + 1, moving_reference));
    }
  }
  RETURN_IF_ERROR(SaveTrainedModel(run, *policy, trainer->optimizer()));
  return last;
}

}  // namespace r1rl::pipeline
