// The learner service (r1rl-learner): rank 0 runs the controller (leases, RocksDB rollout
// buffer, the data plane's endpoints) and trains GRPO on the batches it hands out; after
// each step it publishes the new weights for workers to fetch and moves the policy version.
//
//   ASSIGN_OR_RETURN(LearnerOptions o, LearnerOptionsFromConfig(cfg));
//   RETURN_IF_ERROR(RunLearner(o, stop, std::cout));
//
// A step: wait for `prompts_per_step` trainable groups (stale ones are dropped by the
// controller and counted; with grpo.dynamic_sampling, groups whose rewards are all equal are
// filtered and more are awaited) -> check each group (G samples, token ids inside the
// vocabulary, one log-prob per token, lengths inside the model's context: a bad one is
// dropped and counted, never trained on) -> GrpoTrainer::Step -> publish weights -> next
// version. Writes <run_dir>/metrics.jsonl (one object per step, the embedded demo's names),
// <run_dir>/trained.jsonl (the lease and prompt ids each step trained on: the audit trail),
// <run_dir>/endpoints.json (the bound addresses) and <run_dir>/checkpoints/{step-N,final}.
#ifndef R1RL_SERVICES_LEARNER_LEARNER_SERVICE_H_
#define R1RL_SERVICES_LEARNER_LEARNER_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "lib/broadcast/collective_sender.h"
#include "lib/config/config.h"
#include "lib/controller/controller_server.h"
#include "lib/distributed/dist_options.h"
#include "lib/safetensors/safetensors.h"
#include "lib/training/grpo_trainer.h"

namespace r1rl::learner {

struct LearnerOptions {
  ControllerOptions controller;
  std::string data_path;  // prompts, JSONL (prompt_dataset.h)
  std::string
      model_dir;  // the initial policy (config.json + safetensors; tokenizer.json copied along)
  std::string run_dir;
  GrpoTrainerOptions trainer;
  int64_t steps = 100;
  int64_t prompts_per_step = 32;
  int64_t max_new_tokens = 256;  // the samplers', for the overlong shaping
  int64_t overlong_cache_length = 0;
  bool dynamic_sampling = false;
  int64_t epochs = 0;             // passes over the data (0: as many as the steps need)
  int64_t checkpoint_every = 10;  // steps; 0: the final checkpoint only
  int64_t checkpoint_keep = 3;    // step-N checkpoints kept (final always)
  // Weights to the param-broadcast service (controller.broadcast_address) in this dtype: F32
  // as trained, or BF16 / F16 (broadcast.transfer_dtype).
  safetensors::DType broadcast_dtype = safetensors::DType::kF32;
  // broadcast.collective: each version also goes through the service's collective group
  // (GPU workers), right after it is published (lib/broadcast/collective_sender.h).
  bool collective = false;
  broadcast::CollectiveSenderOptions collective_sender;
  // Data-parallel ranks (learner.world_size, learner.rank, ...; learner_ranks.h): rank 0 runs
  // the controller, checkpoints and publishes; every rank trains its share of each batch.
  distributed::DistOptions dist;
};

// learner.*, grpo.*, optim.*, generation.*, and the rank's place from learner.* or
// MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE: InvalidArgument naming the key and the value.
absl::StatusOr<LearnerOptions> LearnerOptionsFromConfig(const config::Config& cfg);

// Runs until `steps` are done, the data is exhausted, or `stop` (then it saves and returns
// OK). Progress lines go to `log`. With several ranks, every rank calls this: rank 0 decides
// when the run ends (the others ignore `stop`); a rank that dies ends the others with an error
// naming it within learner.dist_timeout_s.
absl::Status RunLearner(const LearnerOptions& options, const std::atomic<bool>& stop,
                        std::ostream& log);

}  // namespace r1rl::learner

#endif  // R1RL_SERVICES_LEARNER_LEARNER_SERVICE_H_
