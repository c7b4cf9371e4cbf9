// The GRPO training loop, one for every driver: the embedded demo (a sampler and a grader
// thread), the pipeline's rl stage (sample, grade and step in turn) and the learner service
// (batches from the controller's buffer). What differs between them is where rollouts come
// from; that is a RolloutSource. The loop owns the steps, the checkpoints (checkpoint.h)
// and the resume:
//
//   resume from options.resume_from (policy, optimizer, moving KL reference, step)
//   for step in [resumed step, steps):
//     batch = source.Next(step)                    rollouts of whole groups, rewards set
//     (none: the source is done -> stop)
//     metrics = trainer.Step(batch)                the gradient, then the optimizer's step
//     source.Trained(step + 1, batch)              publish: the policy is version step + 1
//     hooks.on_step(step + 1, metrics)             metrics.jsonl, Prometheus, eval, log line
//     checkpoint every options.checkpoint_every steps
//   final checkpoint
//
// Data parallelism: a data-parallel learner runs this same loop on every rank, each rank's
// source handing it that rank's whole groups of the batch (RolloutBatch::shard); the trainer
// sums the gradients over the ranks (grpo_trainer.h, data_parallel.h).
//
// Thread-safety: Run on one thread. A source whose other threads read the policy's weights
// (the demo's sampler) gives weights_mutex(): the loop holds it while the trainer steps.
#ifndef R1RL_LIB_TRAINING_GRPO_LOOP_H_
#define R1RL_LIB_TRAINING_GRPO_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/training/checkpoint.h"
#include "lib/training/rollout.h"

namespace r1rl::model {
class Policy;
}

namespace r1rl::learner {

class GrpoTrainer;

// One step's rollouts.
struct RolloutBatch {
  std::vector<Rollout> rollouts;  // whole groups of group_size, group-major, rewards set
  int64_t group_size = 0;
  Metrics stats;     // the source's statistics of the batch (reward, length, ...), merged into
                     // the step's metrics
  BatchShard shard;  // where `rollouts` sit in the whole batch (data-parallel ranks)
};

class RolloutSource {
 public:
  virtual ~RolloutSource() = default;

  // The rollouts step `step` (0-based) trains on; nullopt when there are no more (the data
  // is exhausted, the run drained or stopped). `checkpoint_now` saves a checkpoint of the
  // current state (step-<step>) while the source waits (the learner's Admin.CheckpointNow).
  virtual absl::StatusOr<std::optional<RolloutBatch>> Next(
      int64_t step, const std::function<absl::Status()>& checkpoint_now) = 0;

  // The trainer finished a step on `batch`: the policy is version `version` now.
  virtual absl::Status Trained(int64_t version, const RolloutBatch& batch) = 0;

  // Where the source resumes: saved in each checkpoint's state (CheckpointState::resume).
  virtual std::map<std::string, int64_t> ResumePoint() const { return {}; }
  // A checkpoint is about to be saved / was saved in `dir` (the learner records it in its
  // buffer and answers the checkpoint requests made before it started; a sharded optimizer
  // gathers its state first). An error from CheckpointStarting: nothing is written.
  virtual absl::Status CheckpointStarting() { return absl::OkStatus(); }
  virtual absl::Status CheckpointSaved(const std::string& dir, const CheckpointState& state) {
    return absl::OkStatus();
  }

  // Held while the trainer changes the weights, when other threads read them.
  virtual std::mutex* weights_mutex() { return nullptr; }
};

struct GrpoLoopOptions {
  int64_t steps = 0;
  uint64_t seed = 0;  // recorded in checkpoints (every draw derives from seed and step)
  // Checkpoints: <checkpoint_root>/step-<N> every `checkpoint_every` steps (0: none), the
  // newest `checkpoint_keep` kept, and <checkpoint_root>/final at the end (when
  // `final_checkpoint`). Empty root: no checkpoints at all.
  std::string checkpoint_root;
  int64_t checkpoint_every = 0;
  int64_t checkpoint_keep = 3;
  bool final_checkpoint = true;
  std::string tokenizer_path;  // copied into each checkpoint as tokenizer.json
  // A checkpoint folder to resume from before the first step ("" : start at step 0).
  std::string resume_from;
};

struct GrpoLoopHooks {
  // After each step, with its metrics ("step", the trainer's, the batch's stats,
  // "wait_seconds", "train_seconds", "step_seconds"); may add to them. An error ends the run.
  std::function<absl::Status(int64_t step, Metrics& metrics)> on_step;
  // Once, when the run resumed from a checkpoint.
  std::function<void(const std::string& dir, const CheckpointState& state)> on_resume;
  // Before the final checkpoint (the demo puts its best weights back).
  std::function<absl::Status()> before_final;
  // When set, a checkpoint that cannot be written (a full disk) does not end the run: this
  // is told (to log and count it), a periodic one is skipped (the next is tried), and the
  // final one is tried again every 5 s until it is written or the run is stopped.
  std::function<void(const absl::Status& error)> on_checkpoint_failed;
};

struct GrpoLoopResult {
  int64_t steps_done = 0;        // the step count at the end (resumed steps included)
  int64_t resumed_at = 0;        // the step the run resumed at (0: a fresh start)
  Metrics last;                  // the last step's metrics (empty when no step ran)
  std::string final_checkpoint;  // its folder ("" when none was written)
};

class GrpoLoop {
 public:
  // All must outlive the loop.
  GrpoLoop(model::Policy* policy, GrpoTrainer* trainer, RolloutSource* source,
           GrpoLoopOptions options, GrpoLoopHooks hooks = {});

  // Loads options.resume_from (once; Run does it when nobody did): the policy, the optimizer,
  // the moving KL reference and the step. Returns the step the run starts at.
  absl::StatusOr<int64_t> Resume();

  // Runs until options.steps, the source is done, or `stop` (then it checkpoints and
  // returns OK).
  absl::StatusOr<GrpoLoopResult> Run(const std::atomic<bool>* stop = nullptr);

  // Saves <root>/<name> now with the loop's current state.
  absl::StatusOr<std::string> SaveCheckpoint(const std::string& name);

  int64_t step() const { return step_; }

 private:
  model::Policy* policy_;
  GrpoTrainer* trainer_;
  RolloutSource* source_;
  GrpoLoopOptions options_;
  GrpoLoopHooks hooks_;
  CheckpointStore store_;
  int64_t step_ = 0;
  int64_t resumed_at_ = 0;
  bool resumed_ = false;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_GRPO_LOOP_H_
