#include "lib/training/grpo_loop.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/status/status_macros.h"
#include "lib/training/grpo_trainer.h"

namespace r1rl::learner {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

GrpoLoop::GrpoLoop(model::Policy* policy, GrpoTrainer* trainer, RolloutSource* source,
                   GrpoLoopOptions options, GrpoLoopHooks hooks)
    : policy_(policy),
      trainer_(trainer),
      source_(source),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      store_(options_.checkpoint_root, options_.checkpoint_keep) {}

absl::StatusOr<std::string> GrpoLoop::SaveCheckpoint(const std::string& name) {
  if (options_.checkpoint_root.empty()) {
    return absl::FailedPreconditionError(
        "checkpoint asked for, but the run has no checkpoint folder");
  }
  CheckpointState state;
  state.step = step_;
  state.policy_version = step_;
  state.seed = options_.seed;
  state.resume = source_->ResumePoint();
  CheckpointContents contents;
  contents.policy = policy_;
  contents.optimizer = &trainer_->optimizer();
  contents.reference = trainer_->moving_reference();
  contents.tokenizer_path = options_.tokenizer_path;
  RETURN_IF_ERROR(source_->CheckpointStarting());
  ASSIGN_OR_RETURN(std::string dir, store_.Save(name, contents, state));
  RETURN_IF_ERROR(source_->CheckpointSaved(dir, state));
  return dir;
}

absl::StatusOr<int64_t> GrpoLoop::Resume() {
  if (resumed_) return resumed_at_;
  resumed_ = true;
  if (!options_.resume_from.empty()) {
    ASSIGN_OR_RETURN(CheckpointState state,
                     LoadCheckpoint(options_.resume_from, policy_, &trainer_->optimizer(),
                                    trainer_->moving_reference()));
    step_ = resumed_at_ = state.step;
    trainer_->set_steps_done(step_);
    if (hooks_.on_resume) hooks_.on_resume(options_.resume_from, state);
  }
  return resumed_at_;
}

absl::StatusOr<GrpoLoopResult> GrpoLoop::Run(const std::atomic<bool>* stop) {
  GrpoLoopResult result;
  ASSIGN_OR_RETURN(result.resumed_at, Resume());
  const auto checkpoint_now = [this]() -> absl::Status {
    return SaveCheckpoint(absl::StrCat("step-", step_)).status();
  };
  const auto stopped = [stop] { return stop != nullptr && stop->load(); };
  while (step_ < options_.steps && !stopped()) {
    const auto wait_start = Clock::now();
    ASSIGN_OR_RETURN(std::optional<RolloutBatch> batch, source_->Next(step_, checkpoint_now));
    if (!batch) break;
    const double wait = Since(wait_start);
    const auto train_start = Clock::now();
    absl::StatusOr<Metrics> stepped;
    {
      std::unique_lock<std::mutex> lock;
      if (std::mutex* mu = source_->weights_mutex()) lock = std::unique_lock<std::mutex>(*mu);
      stepped = trainer_->Step(&batch->rollouts, batch->group_size, batch->shard);
    }
    if (!stepped.ok()) return stepped.status();
    ++step_;
    RETURN_IF_ERROR(source_->Trained(step_, *batch));
    Metrics m = std::move(*stepped);
    for (const auto& [k, v] : batch->stats) m[k] = v;
    const double train = Since(train_start);
    m["step"] = static_cast<double>(step_);
    m["wait_seconds"] = wait;
    m["train_seconds"] = train;
    m["step_seconds"] = wait + train;
    if (hooks_.on_step) RETURN_IF_ERROR(hooks_.on_step(step_, m));
    result.last = std::move(m);
    if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0 &&
        step_ < options_.steps && !options_.checkpoint_root.empty()) {
      absl::StatusOr<std::string> saved = SaveCheckpoint(absl::StrCat("step-", step_));
      if (!saved.ok()) {
        if (!hooks_.on_checkpoint_failed) return saved.status();
        hooks_.on_checkpoint_failed(saved.status());  // the next one is tried
      }
    }
  }
  result.steps_done = step_;
  if (hooks_.before_final) RETURN_IF_ERROR(hooks_.before_final());
  if (options_.final_checkpoint && !options_.checkpoint_root.empty()) {
    while (true) {
      absl::StatusOr<std::string> saved = SaveCheckpoint("final");
      if (saved.ok()) {
        result.final_checkpoint = *saved;
        break;
      }
      if (!hooks_.on_checkpoint_failed || stopped()) return saved.status();
      hooks_.on_checkpoint_failed(saved.status());
      for (int i = 0; i < 50 && !stopped(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  return result;
}

}  // namespace r1rl::learner
