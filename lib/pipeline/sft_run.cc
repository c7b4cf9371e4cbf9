#include "lib/pipeline/sft_run.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/training/checkpoint.h"
#include "lib/training/learner_config.h"
#include "lib/training/sft_data.h"
#include "lib/training/sft_trainer.h"

namespace r1rl::pipeline {
namespace {

// The order of epoch `epoch`: a shuffle fixed by (seed, epoch).
std::vector<size_t> EpochOrder(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

}  // namespace

absl::StatusOr<learner::Metrics> RunSft(const config::Config& cfg, model::Policy* policy,
                                        const tokenizer::Tokenizer& tok, const TrainingRun& run) {
  const int64_t steps = cfg.GetInt("sft.steps"), batch_size = cfg.GetInt("sft.batch_size");
  if (steps < 1)
    return absl::InvalidArgumentError(absl::StrCat("sft.steps = ", steps, ": must be >= 1"));
  if (batch_size < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("sft.batch_size = ", batch_size, ": must be >= 1"));
  const auto& eos = policy->config().eos_token_ids;
  const int32_t eos_id = eos.empty() ? -1 : static_cast<int32_t>(eos.front());
  ASSIGN_OR_RETURN(auto data, learner::LoadSftJsonl(run.data, tok, run.format,
                                                    cfg.GetString("prompt.system"), eos_id));
  if (data.empty()) return absl::InvalidArgumentError(absl::StrCat(run.data, ": no rows"));
  const int64_t max_len = policy->config().max_position_embeddings;
  for (size_t i = 0; i < data.size(); ++i) {
    const int64_t len =
        static_cast<int64_t>(data[i].prompt_ids.size() + data[i].response_ids.size());
    if (len > max_len) {
      return absl::InvalidArgumentError(
          absl::StrCat(run.data, " row ", i + 1, ": ", len,
                       " tokens, more than the model's max_position_embeddings ", max_len));
    }
  }
  ASSIGN_OR_RETURN(auto opt, learner::OptimizerOptionsFromConfig(cfg, "sft.lr", steps));
  learner::SftTrainer trainer(policy, opt, eos.empty() ? 0 : eos_id);
  int64_t step = 0;
  const uint64_t seed = static_cast<uint64_t>(cfg.GetInt("generation.seed"));
  const learner::CheckpointStore store(run.checkpoint_dir, run.checkpoint_keep);
  if (!run.checkpoint_dir.empty()) {
    ASSIGN_OR_RETURN(std::string latest, store.Latest());
    if (!latest.empty()) {
      ASSIGN_OR_RETURN(learner::CheckpointState state,
                       learner::LoadCheckpoint(latest, policy, &trainer.optimizer(), nullptr));
      step = state.step;
      if (step > 0 && run.on_resume) run.on_resume(step);
    }
  }
  const size_t n = data.size();
  int64_t epoch = -1;
  std::vector<size_t> order;
  learner::Metrics last;
  for (; step < steps; ++step) {
    std::vector<learner::SftExample> batch;
    for (int64_t i = 0; i < batch_size; ++i) {
      const int64_t global = step * batch_size + i;
      const int64_t e = global / static_cast<int64_t>(n);
      if (e != epoch) {
        order = EpochOrder(n, seed, e);
        epoch = e;
      }
      batch.push_back(data[order[static_cast<size_t>(global % static_cast<int64_t>(n))]]);
    }
    ASSIGN_OR_RETURN(last, trainer.Step(batch, cfg.GetInt("grpo.micro_batch_size")));
    last["step"] = static_cast<double>(step + 1);
    if (run.on_step) run.on_step(last);
    if (CheckpointDue(run, step + 1, steps)) {
      learner::CheckpointState state;
      state.step = state.policy_version = step + 1;
      state.seed = seed;
      RETURN_IF_ERROR(store
                          .Save(absl::StrCat("step-", step + 1),
                                {policy, &trainer.optimizer(), nullptr, run.tokenizer_path}, state)
                          .status());
    }
  }
  RETURN_IF_ERROR(SaveTrainedModel(run, *policy, trainer.optimizer()));
  return last;
}

}  // namespace r1rl::pipeline
