#include "services/learner/learner_ranks.h"

#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/distributed/c10d_data_parallel.h"
#include "lib/metrics/exposer.h"
#include "lib/model/policy.h"
#include "lib/security/security_options.h"
#include "lib/status/status_macros.h"
#include "lib/transport/sha256.h"
#include "lib/transport/xxh3.h"
#include "services/learner/learner_metrics.h"

namespace r1rl::learner {
namespace {

namespace fs = std::filesystem;

void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
bool GetU64(const std::string& in, size_t* at, uint64_t* v) {
  if (in.size() - *at < 8) return false;
  std::memcpy(v, in.data() + *at, 8);
  *at += 8;
  return true;
}

}  // namespace

absl::StatusOr<std::optional<RolloutBatch>> Rank0Source::Next(
    int64_t step, const std::function<absl::Status()>& checkpoint_now) {
  ASSIGN_OR_RETURN(std::optional<RolloutBatch> whole, inner_->Next(step, checkpoint_now));
  if (!whole) {
    RETURN_IF_ERROR(exchange_->SendEnd());
    return std::nullopt;
  }
  RETURN_IF_ERROR(exchange_->SendBatch(*whole));
  return distributed::BatchExchange::ShardOf(*whole, 0, world_);
}

GrpoTrainerOptions RankTrainerOptions(const LearnerOptions& o, int rank) {
  GrpoTrainerOptions t = o.trainer;
  if (o.dist.shard_optimizer && o.dist.world_size > 1) {
    t.optimizer.shard_rank = rank;
    t.optimizer.shard_count = o.dist.world_size;
  }
  return t;
}

absl::Status Rank0Source::CheckpointStarting() {
  RETURN_IF_ERROR(inner_->CheckpointStarting());
  if (dp_ == nullptr || !dp_->shard_optimizer()) return absl::OkStatus();
  RETURN_IF_ERROR(exchange_->SendCheckpoint());
  return dp_->GatherOptimizerState(*optimizer_, 0);
}

absl::Status Rank0Source::CheckpointSaved(const std::string& dir, const CheckpointState& state) {
  if (dp_ != nullptr && dp_->shard_optimizer()) optimizer_->DropForeignMoments();
  return inner_->CheckpointSaved(dir, state);
}

absl::StatusOr<std::string> ShareResumeState(distributed::ProcessGroup& pg,
                                             const std::string& checkpoint_dir,
                                             const std::string& local_dir) {
  // Message: the step folder's files, each as name length, name, size, bytes.
  std::string msg;
  if (pg.rank() == 0 && !checkpoint_dir.empty()) {
    for (const auto& e : fs::directory_iterator(checkpoint_dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(f)), {});
      const std::string name = e.path().filename().string();
      PutU64(&msg, name.size());
      msg += name;
      PutU64(&msg, bytes.size());
      msg += bytes;
    }
  }
  RETURN_IF_ERROR(pg.BroadcastBytes(&msg, 0));
  if (pg.rank() == 0 || msg.empty()) return std::string();
  std::error_code ec;
  fs::remove_all(local_dir, ec);
  fs::create_directories(local_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(local_dir, ": ", ec.message()));
  size_t at = 0;
  while (at < msg.size()) {
    uint64_t n = 0, size = 0;
    if (!GetU64(msg, &at, &n) || msg.size() - at < n)
      return absl::DataLossError("rank 0's resume state is malformed");
    const std::string name = msg.substr(at, n);
    at += n;
    if (!GetU64(msg, &at, &size) || msg.size() - at < size || name.find('/') != std::string::npos)
      return absl::DataLossError("rank 0's resume state is malformed");
    std::ofstream(local_dir + "/" + name, std::ios::binary).write(msg.data() + at, size);
    at += size;
  }
  return local_dir;
}

absl::Status CheckSameWeights(distributed::ProcessGroup& pg, const model::Policy& policy) {
  ASSIGN_OR_RETURN(std::string bytes, policy.SerializeWeights());
  const std::string mine = transport::HexOf(transport::Xxh128(bytes));
  std::string theirs = mine;
  RETURN_IF_ERROR(pg.BroadcastBytes(&theirs, 0));
  // Every rank says whether it matches; rank 0 names the ones that do not.
  torch::Tensor differs = torch::zeros({pg.size()}, torch::kFloat64);
  if (theirs != mine) differs[pg.rank()] = 1.0;
  std::vector<torch::Tensor> v = {differs};
  RETURN_IF_ERROR(pg.AllReduce(v, distributed::ReduceOp::kSum));
  std::vector<int> bad;
  for (int r = 0; r < pg.size(); ++r) {
    if (differs[r].item<double>() > 0) bad.push_back(r);
  }
  if (!bad.empty()) {
    std::string ranks;
    for (int r : bad) absl::StrAppend(&ranks, ranks.empty() ? "" : ", ", r);
    return absl::FailedPreconditionError(
        absl::StrCat("learner.model: the weights on rank(s) ", ranks,
                     " differ from rank 0's (every rank must load the same model folder)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::array<double, 3>>> RankStats::Exchange(double train_seconds) {
  const distributed::ProcessGroup::Stats now = pg_->stats();
  torch::Tensor t = torch::zeros({pg_->size(), 3}, torch::kFloat64);
  t[pg_->rank()][0] = train_seconds;
  t[pg_->rank()][1] = now.allreduce_seconds - last_.allreduce_seconds;
  t[pg_->rank()][2] = now.allreduce_bytes - last_.allreduce_bytes;
  last_ = now;
  std::vector<torch::Tensor> v = {t};
  RETURN_IF_ERROR(pg_->AllReduce(v, distributed::ReduceOp::kSum));
  // This exchange's own all-reduce is bookkeeping, not the step's: leave it out.
  last_ = pg_->stats();
  std::vector<std::array<double, 3>> out(pg_->size());
  for (int r = 0; r < pg_->size(); ++r) {
    for (int k = 0; k < 3; ++k) out[r][k] = t[r][k].item<double>();
  }
  return out;
}

namespace {

// A rank > 0's source: rank 0's batches, this rank's share of each.
class FollowerSource : public RolloutSource {
 public:
  FollowerSource(distributed::BatchExchange* exchange, int rank, int world)
      : exchange_(exchange), rank_(rank), world_(world) {}
  absl::StatusOr<std::optional<RolloutBatch>> Next(int64_t,
                                                   const std::function<absl::Status()>&) override {
    ASSIGN_OR_RETURN(std::optional<RolloutBatch> whole, exchange_->Receive());
    if (!whole) return std::nullopt;
    return distributed::BatchExchange::ShardOf(*whole, rank_, world_);
  }
  absl::Status Trained(int64_t, const RolloutBatch&) override { return absl::OkStatus(); }

 private:
  distributed::BatchExchange* exchange_;
  int rank_, world_;
};

}  // namespace

absl::Status RunFollower(const LearnerOptions& o, distributed::ProcessGroup& pg,
                         std::ostream& log) {
  ASSIGN_OR_RETURN(auto policy, model::Policy::Load(o.model_dir, {}));
  ASSIGN_OR_RETURN(auto trainer,
                   GrpoTrainer::Create(policy.get(), RankTrainerOptions(o, pg.rank())));
  distributed::C10dDataParallel dp(&pg, o.dist.bucket_bytes, o.dist.shard_optimizer,
                                   o.dist.overlap);
  trainer->set_data_parallel(&dp);
  distributed::BatchExchange exchange(&pg);
  exchange.set_on_checkpoint([&] { return dp.GatherOptimizerState(trainer->optimizer(), 0); });
  FollowerSource source(&exchange, pg.rank(), pg.size());
  GrpoLoopOptions lo;
  lo.steps = o.steps;
  lo.seed = o.trainer.seed;
  lo.final_checkpoint = false;  // rank 0 checkpoints for every rank
  ASSIGN_OR_RETURN(
      lo.resume_from,
      ShareResumeState(pg, "", absl::StrCat(o.run_dir, "/rank-", pg.rank(), "/resume")));
  // /healthz and this rank's own figures on learner.metrics_address (rank 0's has all ranks').
  metrics::Registry registry;
  LearnerMetrics lm(registry);
  lm.ranks.Set(static_cast<double>(pg.size()));
  ASSIGN_OR_RETURN(auto exposer_options, security::MetricsOptions(o.controller.security));
  ASSIGN_OR_RETURN(auto exposer, metrics::Exposer::Start(o.controller.metrics_address, &registry,
                                                         {}, exposer_options));
  const std::string rank = std::to_string(pg.rank());
  RankStats stats(&pg);
  GrpoLoopHooks hooks;
  hooks.on_step = [&](int64_t step, Metrics& m) -> absl::Status {
    ASSIGN_OR_RETURN(auto per_rank, stats.Exchange(m["train_seconds"]));
    lm.steps.Increment();
    lm.version.Set(static_cast<double>(step));
    lm.step_seconds.Observe(m["train_seconds"]);
    lm.rank_step_seconds.Add({{"rank", rank}}).Set(per_rank[pg.rank()][0]);
    lm.allreduce_seconds.Add({{"rank", rank}}).Increment(per_rank[pg.rank()][1]);
    lm.allreduce_bytes.Add({{"rank", rank}}).Increment(per_rank[pg.rank()][2]);
    log << absl::StrFormat("  rank %d step %3d/%d  train %.2f s  all-reduce %.2f s (%.1f MB)\n",
                           pg.rank(), step, o.steps, per_rank[pg.rank()][0], per_rank[pg.rank()][1],
                           per_rank[pg.rank()][2] / 1e6)
        << std::flush;
    return absl::OkStatus();
  };
  GrpoLoop loop(policy.get(), trainer.get(), &source, lo, hooks);
  ASSIGN_OR_RETURN(const int64_t start_step, loop.Resume());
  RETURN_IF_ERROR(CheckSameWeights(pg, *policy));
  log << absl::StrFormat("learner rank %d of %d: %s, starting at step %d (%s); metrics :%d\n",
                         pg.rank(), pg.size(), o.model_dir, start_step,
                         distributed::BackendName(pg.backend()), exposer->port())
      << std::flush;
  ASSIGN_OR_RETURN(GrpoLoopResult result, loop.Run(nullptr));
  RETURN_IF_ERROR(exchange.WaitForDone());
  log << absl::StrFormat("learner rank %d: done at step %d\n", pg.rank(), result.steps_done)
      << std::flush;
  return absl::OkStatus();
}

}  // namespace r1rl::learner
