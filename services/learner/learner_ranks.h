// The data-parallel learner's ranks (learner_service.h runs them): rank 0 keeps the
// controller and hands out batches, every rank trains its share of each (lib/distributed).
//
//   rank 0:  Rank0Source wraps the controller's source: each batch goes to every rank
//            (BatchExchange), rank 0 keeps its own groups; ShareResumeState after resuming
//   rank r:  RunFollower: the same GRPO loop on batches from rank 0, no controller, no
//            checkpoints, no publishing (rank 0 does those once for all)
//
// Per step, in this order on every rank (they are collectives): the batch, the trainer's
// all-reduces, ExchangeRankStats (each rank's step and all-reduce time for rank 0's /metrics).
#ifndef R1RL_SERVICES_LEARNER_LEARNER_RANKS_H_
#define R1RL_SERVICES_LEARNER_LEARNER_RANKS_H_

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/distributed/batch_exchange.h"
#include "lib/distributed/c10d_data_parallel.h"
#include "lib/distributed/process_group.h"
#include "lib/training/grpo_loop.h"
#include "services/learner/learner_service.h"

namespace r1rl::model {
class Policy;
}

namespace r1rl::learner {

// Rank 0's source: the controller's batches, sent whole to every rank; returns rank 0's share.
class Rank0Source : public RolloutSource {
 public:
  // `dp` and `optimizer`: a sharded optimizer's state is gathered into rank 0 for each
  // checkpoint (with every rank's help) and dropped after.
  Rank0Source(RolloutSource* inner, distributed::BatchExchange* exchange, int world,
              distributed::C10dDataParallel* dp, Optimizer* optimizer)
      : inner_(inner), exchange_(exchange), world_(world), dp_(dp), optimizer_(optimizer) {}

  absl::StatusOr<std::optional<RolloutBatch>> Next(
      int64_t step, const std::function<absl::Status()>& checkpoint_now) override;
  absl::Status Trained(int64_t version, const RolloutBatch& batch) override {
    return inner_->Trained(version, batch);
  }
  std::map<std::string, int64_t> ResumePoint() const override { return inner_->ResumePoint(); }
  absl::Status CheckpointStarting() override;
  absl::Status CheckpointSaved(const std::string& dir, const CheckpointState& state) override;

 private:
  RolloutSource* inner_;
  distributed::BatchExchange* exchange_;
  int world_;
  distributed::C10dDataParallel* dp_;
  Optimizer* optimizer_;
};

// After rank 0 resumed (or not: `checkpoint_dir` ""), it sends the checkpoint's files to the
// other ranks, which write them under `local_dir` and resume from there: no shared disk is
// needed. Returns, on rank r > 0, the folder to resume from ("" : a fresh start).
absl::StatusOr<std::string> ShareResumeState(distributed::ProcessGroup& pg,
                                             const std::string& checkpoint_dir,
                                             const std::string& local_dir);

// Every rank's weights must be rank 0's before the first step: FailedPrecondition naming the
// rank whose weights (learner.model) differ.
absl::Status CheckSameWeights(distributed::ProcessGroup& pg, const model::Policy& policy);

// Each rank's [train seconds, all-reduce seconds, all-reduce bytes] of the step just done
// (since the previous call), indexed by rank: the same result on every rank.
class RankStats {
 public:
  explicit RankStats(distributed::ProcessGroup* pg) : pg_(pg) {}
  absl::StatusOr<std::vector<std::array<double, 3>>> Exchange(double train_seconds);

 private:
  distributed::ProcessGroup* pg_;
  distributed::ProcessGroup::Stats last_;
};

// The trainer's options on rank `rank`: with learner.shard_optimizer, its optimizer shard.
GrpoTrainerOptions RankTrainerOptions(const LearnerOptions& o, int rank);

// A rank > 0: trains until rank 0 says the run is over or `o.steps` are done. Serves /healthz
// and its own step and all-reduce figures on learner.metrics_address.
absl::Status RunFollower(const LearnerOptions& o, distributed::ProcessGroup& pg, std::ostream& log);

}  // namespace r1rl::learner

#endif  // R1RL_SERVICES_LEARNER_LEARNER_RANKS_H_
