// One checkpoint format for every trainer: the GRPO loop (the demo, the pipeline's rl stage,
// the learner service) and SFT. A checkpoint is a folder under a root:
//
//   <root>/step-<N>/   config.json + model.safetensors   the policy (a model folder that loads
//                      tokenizer.json                    in transformers and in r1rl as is)
//                      optimizer.safetensors             AdamW moments, the step count
//                      reference/                        the KL reference, when
//                                                        grpo.ref_update_every moves it
//                      state.json                        {"format": "r1rl-checkpoint/1",
//                                                         "step", "policy_version", "seed",
//                                                         "resume": {...}}
//   <root>/final/      the same, the run's last state
//
// A save writes <root>/.tmp-<name> and renames it over <root>/<name>; state.json is written
// last, so a folder without it is not a checkpoint, and a kill mid-save leaves the previous
// checkpoints whole. After each save the store keeps the newest `keep` step-<N> folders and
// always `final`. RNG state: every random draw of a run derives from (seed, step) (sampling
// seeds, mini-batch shuffles), so the seed and the step restore it.
//
//   CheckpointStore store(run_dir + "/checkpoints", /*keep=*/3);
//   ASSIGN_OR_RETURN(std::string dir, store.Save("step-10", {&policy, &optimizer, ref}, state));
//   ASSIGN_OR_RETURN(std::string latest, store.Latest());   // "" when there is none
//   ASSIGN_OR_RETURN(CheckpointState s, LoadCheckpoint(latest, &policy, &optimizer, ref));
//
// Thread-safety: one saver per root.
#ifndef R1RL_LIB_TRAINING_CHECKPOINT_H_
#define R1RL_LIB_TRAINING_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::model {
class Policy;
}

namespace r1rl::learner {

class Optimizer;

inline constexpr char kCheckpointFormat[] = "r1rl-checkpoint/1";

// What a checkpoint records besides tensors.
struct CheckpointState {
  int64_t step = 0;            // optimisation steps done
  int64_t policy_version = 0;  // the version the weights were published as
  uint64_t seed = 0;           // the run's seed: with `step`, every random draw of the run
  // Where the run's data source resumes (e.g. "data_position": the oldest prompt not yet
  // trained on); each source names its own keys.
  std::map<std::string, int64_t> resume;
};

// What a checkpoint holds. `optimizer` and `reference` may be null (not saved);
// `tokenizer_path`, when not empty, is copied in as tokenizer.json.
struct CheckpointContents {
  const model::Policy* policy = nullptr;
  const Optimizer* optimizer = nullptr;
  const model::Policy* reference = nullptr;
  std::string tokenizer_path;
};

class CheckpointStore {
 public:
  // keep >= 1: the step-<N> folders kept after a save ("final" is never pruned).
  CheckpointStore(std::string root, int64_t keep);

  // Writes <root>/<name> (a folder name: "step-<N>", "final", ...) and prunes; returns its path.
  absl::StatusOr<std::string> Save(const std::string& name, const CheckpointContents& contents,
                                   const CheckpointState& state) const;
  // The complete checkpoint with the highest step ("final" included), "" when there is none.
  absl::StatusOr<std::string> Latest() const;
  // The complete step-<N> folders, oldest first.
  std::vector<std::string> StepCheckpoints() const;

  const std::string& root() const { return root_; }
  int64_t keep() const { return keep_; }

 private:
  std::string root_;
  int64_t keep_;
};

// Whether `dir` holds a complete checkpoint (its state.json is there).
bool IsCheckpoint(const std::string& dir);

// Reads <dir>/state.json. DataLoss naming the file when it is not a checkpoint's state.
absl::StatusOr<CheckpointState> ReadCheckpointState(const std::string& dir);

// Loads the checkpoint in `dir` into `policy`, and into `optimizer` and `reference` when they
// are given and the checkpoint has them (a reference the checkpoint lacks is left as it is:
// it never moved). FailedPrecondition when the checkpoint is of another model; DataLoss when
// its state is unreadable.
absl::StatusOr<CheckpointState> LoadCheckpoint(const std::string& dir, model::Policy* policy,
                                               Optimizer* optimizer, model::Policy* reference);

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_CHECKPOINT_H_
