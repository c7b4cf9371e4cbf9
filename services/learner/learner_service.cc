#include "services/learner/learner_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/broadcast/publisher.h"
#include "lib/broadcast/transfer_dtype.h"
#include "lib/distributed/batch_exchange.h"
#include "lib/distributed/c10d_data_parallel.h"
#include "lib/distributed/process_group.h"
#include "lib/model/policy.h"
#include "lib/security/security_options.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/training/advantages.h"
#include "lib/training/checkpoint.h"
#include "lib/training/grpo_loop.h"
#include "lib/training/learner_config.h"
#include "lib/training/metrics_json.h"
#include "services/learner/audit_file.h"
#include "services/learner/learner_metrics.h"
#include "services/learner/learner_ranks.h"

namespace r1rl::learner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Why a group from the wire cannot be trained on; "" when it can.
std::string CheckGroup(const v1::RolloutGroup& g, int64_t group_size,
                       const model::ModelConfig& mc) {
  if (g.samples_size() != group_size) return "group_size";
  if (g.prompt_ids_size() == 0) return "empty_prompt";
  auto in_vocab = [&](int32_t id) { return id >= 0 && id < mc.vocab_size; };
  if (!std::all_of(g.prompt_ids().begin(), g.prompt_ids().end(), in_vocab)) return "token_id";
  for (const v1::Sample& s : g.samples()) {
    if (s.completion_ids_size() == 0) return "empty_completion";
    if (s.completion_ids_size() != s.behaviour_logprobs_size()) return "logprobs";
    if (!std::all_of(s.completion_ids().begin(), s.completion_ids().end(), in_vocab))
      return "token_id";
    if (g.prompt_ids_size() + s.completion_ids_size() > mc.max_position_embeddings)
      return "too_long";
    for (float lp : s.behaviour_logprobs()) {
      if (!(lp <= 0.0f) || !std::isfinite(lp)) return "logprobs";
    }
    if (!std::isfinite(s.reward())) return "reward";
  }
  return "";
}

struct Batch {
  std::vector<Rollout> rollouts;
  int64_t groups = 0;
  int64_t stale = 0;
  int64_t filtered = 0;  // dynamic sampling: no reward variance
  std::map<std::string, int64_t> bad;
  std::vector<std::string> leases, prompts;  // of the groups trained on
};

void AddGroup(const LearnerOptions& o, const v1::RolloutGroup& g, Batch* b) {
  for (const v1::Sample& s : g.samples()) {
    Rollout r;
    r.group_id = b->groups;
    r.prompt_ids.assign(g.prompt_ids().begin(), g.prompt_ids().end());
    r.completion_ids.assign(s.completion_ids().begin(), s.completion_ids().end());
    r.behaviour_logprobs.assign(s.behaviour_logprobs().begin(), s.behaviour_logprobs().end());
    r.truncated = s.finish_reason() == "length";
    r.policy_version = g.policy_version();
    r.reward = s.reward();
    for (const auto& [k, v] : s.reward_components()) r.reward_components[k] = v;
    if (o.overlong_cache_length > 0) {
      const double pen = OverlongPenalty(static_cast<int64_t>(r.completion_ids.size()),
                                         o.max_new_tokens, o.overlong_cache_length);
      r.reward_components["overlong"] = pen;
      r.reward += pen;
    }
    b->rollouts.push_back(std::move(r));
  }
  ++b->groups;
  b->leases.push_back(g.lease_id());
  b->prompts.push_back(g.prompt_id());
}

// Reward and response statistics of a batch, under the embedded demo's names.
void BatchStats(const Batch& b, int64_t policy_version, Metrics* m) {
  const double n = std::max<size_t>(1, b.rollouts.size());
  double sum = 0, sq = 0, len = 0, len_max = 0, trunc = 0, lag = 0, lag_max = 0;
  std::map<std::string, double> comp;
  for (const Rollout& r : b.rollouts) {
    sum += r.reward;
    sq += r.reward * r.reward;
    len += static_cast<double>(r.completion_ids.size());
    len_max = std::max<double>(len_max, static_cast<double>(r.completion_ids.size()));
    trunc += r.truncated;
    const double l = static_cast<double>(policy_version - r.policy_version);
    lag += l;
    lag_max = std::max(lag_max, l);
    for (const auto& [k, v] : r.reward_components) comp[k] += v;
  }
  (*m)["reward"] = sum / n;
  (*m)["reward_std"] = std::sqrt(std::max(0.0, sq / n - (sum / n) * (sum / n)));
  for (const auto& [k, v] : comp) (*m)["reward/" + k] = v / n;
  if (comp.count("accuracy")) (*m)["accuracy"] = comp["accuracy"] / n;
  (*m)["response_length"] = len / n;
  (*m)["response_length_max"] = len_max;
  (*m)["truncation_ratio"] = trunc / n;
  (*m)["sample_lag_mean"] = lag / n;
  (*m)["sample_lag_max"] = lag_max;
}

// Publishes a version's weights: to the param-broadcast service once (when there is one), then
// to the controller (FetchWeights, the fallback), which lets leases at that version go out.
using WeightPublisher = std::function<void(int64_t version, std::string bytes)>;

// The learner's rollouts: batches from the controller's buffer. A step waits for
// `prompts_per_step` trainable groups (answering Admin.CheckpointNow meanwhile), drops and
// counts bad, stale and signal-less ones, and orders the rest by dataset position so a
// step's batch does not depend on arrival order. After a step the new weights are published
// and the batch's leases marked trained; each checkpoint is recorded as the buffer's resume
// point.
class ControllerSource : public RolloutSource {
 public:
  ControllerSource(const LearnerOptions& o, ControllerServer& controller, WeightPublisher& publish,
                   model::Policy& policy, LearnerMetrics& lm, const std::atomic<bool>& stop,
                   std::ostream& log)
      : o_(o),
        controller_(controller),
        publish_(publish),
        policy_(policy),
        lm_(lm),
        stop_(stop),
        log_(log) {}

  absl::StatusOr<std::optional<RolloutBatch>> Next(
      int64_t step, const std::function<absl::Status()>& checkpoint_now) override {
    if (done_) return std::nullopt;
    const int64_t group_size = o_.controller.group_size;
    Batch batch;
    auto last_note = Clock::now();
    std::vector<std::string> dropped_leases;  // taken, not trained on: done with all the same
    std::vector<const v1::RolloutGroup*> accepted;
    std::deque<TrainBatch> taken;  // owns the groups `accepted` points to
    while (static_cast<int64_t>(accepted.size()) < o_.prompts_per_step && !stop_) {
      if (controller_.PendingCheckpoints() > 0) {
        spdlog::info("learner: checkpoint step-{} (asked for)", step);
        RETURN_IF_ERROR(checkpoint_now());
      }
      if (idle_) RETURN_IF_ERROR(idle_());
      ASSIGN_OR_RETURN(
          TrainBatch got,
          controller_.TakeBatch(o_.prompts_per_step - static_cast<int64_t>(accepted.size()),
                                Clock::now() + std::chrono::milliseconds(500)));
      batch.stale += got.stale_dropped;
      int64_t discarded = 0;
      if (got.stale_dropped > 0) {
        lm_.dropped.Add({{"reason", "stale"}}).Increment(static_cast<double>(got.stale_dropped));
      }
      const bool empty = got.groups.empty();
      taken.push_back(std::move(got));
      for (const v1::RolloutGroup& g : taken.back().groups) {
        const std::string why = CheckGroup(g, group_size, policy_.config());
        if (!why.empty()) {
          ++batch.bad[why];
          lm_.dropped.Add({{"reason", why}}).Increment();
          spdlog::warn("learner: group {} from {} dropped: {}", g.lease_id(), g.worker_id(), why);
          dropped_leases.push_back(g.lease_id());
          ++discarded;
          continue;
        }
        if (o_.dynamic_sampling) {
          std::vector<double> r;
          for (const v1::Sample& s : g.samples()) r.push_back(s.reward());
          if (!GroupHasSignal(r)) {
            ++batch.filtered;
            lm_.dropped.Add({{"reason", "no_signal"}}).Increment();
            dropped_leases.push_back(g.lease_id());
            ++discarded;
            continue;
          }
        }
        accepted.push_back(&g);
      }
      controller_.DiscardGroups(discarded);
      if (empty) {
        const v1::ControllerStatus st = controller_.Status();
        if ((st.dataset_exhausted() || st.draining()) && st.leases_outstanding() == 0 &&
            st.groups_unconsumed() == 0) {
          done_ = true;
          break;
        }
        if (Since(last_note) > 30) {
          log_ << absl::StrFormat(
                      "learner: step %d waits for rollouts: %d/%d groups; %d workers, %d leases "
                      "out\n",
                      step + 1, accepted.size(), o_.prompts_per_step, st.workers(),
                      st.leases_outstanding())
               << std::flush;
          last_note = Clock::now();
        }
      }
    }
    controller_.Trained(dropped_leases);
    if (stop_ || accepted.empty()) return std::nullopt;
    std::stable_sort(accepted.begin(), accepted.end(), [](const auto* a, const auto* b) {
      return a->dataset_position() < b->dataset_position();
    });
    for (const v1::RolloutGroup* g : accepted) AddGroup(o_, *g, &batch);
    RolloutBatch out;
    out.group_size = group_size;
    BatchStats(batch, step, &out.stats);
    out.stats["groups"] = static_cast<double>(batch.groups);
    out.stats["groups_stale"] = static_cast<double>(batch.stale);
    out.stats["groups_filtered"] = static_cast<double>(batch.filtered);
    int64_t bad = 0;
    for (const auto& [k, v] : batch.bad) bad += v;
    out.stats["groups_bad"] = static_cast<double>(bad);
    out.rollouts = std::move(batch.rollouts);
    leases_ = std::move(batch.leases);
    prompts_ = std::move(batch.prompts);
    return out;
  }

  absl::Status Trained(int64_t version, const RolloutBatch&) override {
    ASSIGN_OR_RETURN(std::string bytes, policy_.SerializeWeights());
    publish_(version, std::move(bytes));
    controller_.SetPolicyVersion(version);
    controller_.Trained(leases_);
    return absl::OkStatus();
  }

  absl::Status CheckpointStarting() override {
    pending_ = controller_.PendingCheckpoints();
    return absl::OkStatus();
  }
  absl::Status CheckpointSaved(const std::string& dir, const CheckpointState& state) override {
    RETURN_IF_ERROR(controller_.SaveResumePoint(state.step, dir));
    controller_.CheckpointSaved(pending_, state.step, dir);
    return absl::OkStatus();
  }

  // Called about twice a second while a step waits for rollouts (the data-parallel learner's
  // keep-alive to its other ranks); an error ends the wait.
  void set_idle(std::function<absl::Status()> idle) { idle_ = std::move(idle); }

  // The lease and prompt ids of the last batch (trained.jsonl).
  const std::vector<std::string>& leases() const { return leases_; }
  const std::vector<std::string>& prompts() const { return prompts_; }

 private:
  const LearnerOptions& o_;
  ControllerServer& controller_;
  WeightPublisher& publish_;
  model::Policy& policy_;
  LearnerMetrics& lm_;
  const std::atomic<bool>& stop_;
  std::ostream& log_;
  bool done_ = false;
  std::function<absl::Status()> idle_;
  int64_t pending_ = 0;
  std::vector<std::string> leases_, prompts_;
};

// Opens an audit file (metrics.jsonl, trained.jsonl) for appending; a restarted learner
// marks where its lines begin: {"event": "start", "resumed_at_step": N, "checkpoint": ...}.
AuditFile OpenAudit(const std::string& path, int64_t resumed_at, const std::string& from) {
  AuditFile f(path);
  if (!f.empty_file()) {
    f.Append(nlohmann::json({{"event", "start"},
                             {"resumed_at_step", resumed_at},
                             {"checkpoint", from},
                             {"unix_time", static_cast<int64_t>(std::time(nullptr))}})
                 .dump());
  }
  return f;
}

}  // namespace

absl::StatusOr<LearnerOptions> LearnerOptionsFromConfig(const config::Config& cfg) {
  LearnerOptions o;
  ASSIGN_OR_RETURN(o.trainer, GrpoOptionsFromConfig(cfg));
  auto bad = [](const std::string& key, const auto& v, const std::string& rule) {
    return absl::InvalidArgumentError(absl::StrCat(key, " = ", v, ": ", rule));
  };
  o.data_path = cfg.GetString("learner.data");
  o.model_dir = cfg.GetString("learner.model");
  o.run_dir = cfg.GetString("learner.run_dir");
  if (o.data_path.empty()) return bad("learner.data", "\"\"", "a prompts JSONL file is needed");
  if (o.model_dir.empty())
    return bad("learner.model", "\"\"", "a model folder (config.json, safetensors) is needed");
  if (o.run_dir.empty())
    return bad("learner.run_dir", "\"\"",
               "a folder for the buffer, metrics and checkpoints is needed");
  o.steps = cfg.GetInt("grpo.steps");
  o.prompts_per_step = cfg.GetInt("grpo.prompts_per_step");
  o.max_new_tokens = cfg.GetInt("generation.max_new_tokens");
  o.overlong_cache_length = cfg.GetInt("grpo.overlong_cache_length");
  o.dynamic_sampling = cfg.GetBool("grpo.dynamic_sampling");
  o.epochs = cfg.GetInt("learner.epochs");
  o.checkpoint_every = cfg.GetInt("learner.checkpoint_every");
  o.checkpoint_keep = cfg.GetInt("learner.checkpoint_keep");
  if (o.steps < 0) return bad("grpo.steps", o.steps, "must be >= 0");
  if (o.prompts_per_step < 1 || o.prompts_per_step > 65536)
    return bad("grpo.prompts_per_step", o.prompts_per_step, "must be in 1..65536");
  if (o.epochs < 0) return bad("learner.epochs", o.epochs, "must be >= 0");
  if (o.checkpoint_every < 0)
    return bad("learner.checkpoint_every", o.checkpoint_every, "must be >= 0");
  if (o.checkpoint_keep < 1)
    return bad("learner.checkpoint_keep", o.checkpoint_keep, "must be >= 1");
  o.trainer.optimizer.schedule.total_steps =
      o.steps * o.trainer.ppo_epochs * o.trainer.mini_batches;
  o.controller.resume = cfg.GetBool("learner.resume");
  o.controller.lease_after_weights = true;

  ControllerOptions& c = o.controller;
  c.grpc_address = cfg.GetString("learner.grpc_address");
  c.rollouts_address = cfg.GetString("learner.rollouts_address");
  c.graders_address = cfg.GetString("learner.graders_address");
  c.ingest_address = cfg.GetString("learner.ingest_address");
  c.metrics_address = cfg.GetString("learner.metrics_address");
  c.broadcast_address = cfg.GetString("broadcast.address");
  c.reward_min = cfg.GetDouble("learner.reward_min");
  c.reward_max = cfg.GetDouble("learner.reward_max");
  if (!(c.reward_min < c.reward_max)) {
    return bad("learner.reward_min", c.reward_min,
               absl::StrCat("must be below learner.reward_max = ", c.reward_max));
  }
  ASSIGN_OR_RETURN(c.security, security::SecurityFromConfig(cfg));
  {
    using safetensors::DType;
    const std::string d = cfg.GetString("broadcast.transfer_dtype");
    static const std::map<std::string, DType> kDtypes = {
        {"float32", DType::kF32}, {"bfloat16", DType::kBF16}, {"float16", DType::kF16}};
    auto it = kDtypes.find(d);
    if (it == kDtypes.end())
      return bad("broadcast.transfer_dtype", "\"" + d + "\"", "float32, bfloat16 or float16");
    o.broadcast_dtype = it->second;
  }
  {
    o.collective = cfg.GetBool("broadcast.collective");
    broadcast::CollectiveSenderOptions& cs = o.collective_sender;
    cs.host = cfg.GetString("broadcast.collective_host");
    const std::string b = cfg.GetString("broadcast.collective_backend");
    static const std::map<std::string, distributed::Backend> kBackends = {
        {"auto", distributed::Backend::kAuto},
        {"gloo", distributed::Backend::kGloo},
        {"nccl", distributed::Backend::kNccl}};
    auto it = kBackends.find(b);
    if (it == kBackends.end())
      return bad("broadcast.collective_backend", "\"" + b + "\"", "auto, gloo or nccl");
    cs.backend = it->second;
    cs.bucket_bytes = cfg.GetInt("broadcast.bucket_bytes");
    if (cs.bucket_bytes < 1 || cs.bucket_bytes > (int64_t{1} << 30))
      return bad("broadcast.bucket_bytes", cs.bucket_bytes, "must be in 1..1073741824");
    const int64_t t = cfg.GetInt("broadcast.collective_timeout_s");
    if (t < 1 || t > 86400) return bad("broadcast.collective_timeout_s", t, "must be in 1..86400");
    cs.timeout = std::chrono::seconds(t);
    cs.interface = cfg.GetString("learner.dist_interface");
    // The wire carries the published dtype: what the members' manifests describe.
    cs.wire = o.broadcast_dtype == safetensors::DType::kBF16  ? broadcast::FloatWire::kBFloat16
              : o.broadcast_dtype == safetensors::DType::kF16 ? broadcast::FloatWire::kFloat16
                                                              : broadcast::FloatWire::kAsIs;
  }
  c.buffer_path = o.run_dir + "/buffer";
  c.buffer_min_free_bytes = cfg.GetInt("learner.buffer_min_free_mb") << 20;
  const int64_t g = cfg.GetInt("generation.num_samples");
  if (g < 2 || g > 4096) return bad("generation.num_samples", g, "GRPO needs a group of 2..4096");
  c.group_size = static_cast<int32_t>(g);
  const double lease_s = cfg.GetDouble("learner.lease_seconds");
  if (!(lease_s >= 0.1 && lease_s <= 86400))
    return bad("learner.lease_seconds", lease_s, "must be in [0.1, 86400]");
  c.leases.lease_duration = std::chrono::milliseconds(static_cast<int64_t>(lease_s * 1000));
  const double heartbeat_s = cfg.GetDouble("learner.heartbeat_seconds");
  if (!(heartbeat_s >= 0.1 && heartbeat_s <= 3600))
    return bad("learner.heartbeat_seconds", heartbeat_s, "must be in [0.1, 3600]");
  c.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(heartbeat_s * 1000));
  c.leases.max_staleness = cfg.GetInt("grpo.max_policy_lag");
  if (c.leases.max_staleness < 0)
    return bad("grpo.max_policy_lag", c.leases.max_staleness, "must be >= 0");
  c.leases.groups_per_step = o.prompts_per_step;
  ASSIGN_OR_RETURN(o.dist, distributed::DistOptionsFromConfig(cfg));
  return o;
}

absl::Status RunLearner(const LearnerOptions& o, const std::atomic<bool>& stop, std::ostream& log) {
  std::error_code ec;
  fs::create_directories(o.run_dir + "/checkpoints", ec);
  if (ec)
    return absl::InternalError(absl::StrCat("learner.run_dir = ", o.run_dir, ": ", ec.message()));
  ASSIGN_OR_RETURN(PromptDataset dataset, PromptDataset::Load(o.data_path));
  const int64_t rows = static_cast<int64_t>(dataset.size());
  dataset.set_epochs(o.epochs > 0 ? o.epochs
                                  : std::max<int64_t>(1, (o.steps * o.prompts_per_step + rows - 1) /
                                                                 std::max<int64_t>(1, rows) +
                                                             (o.dynamic_sampling ? 2 : 0)));
  // The model folder's tokenizer is what every worker will load: refuse a broken one here
  // (the model's weights are checked by Policy::Load below).
  if (const std::string tok = o.model_dir + "/tokenizer.json"; std::filesystem::exists(tok)) {
    absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> t = tokenizer::LoadTokenizer(tok);
    if (!t.ok()) return absl::InvalidArgumentError(std::string(t.status().message()));
  }
  // Ranks: the rendezvous before anything binds a port; ranks > 0 only train.
  std::unique_ptr<distributed::ProcessGroup> pg;
  if (o.dist.world_size > 1) {
    log << absl::StrFormat("learner rank %d of %d: rendezvous at %s:%d\n", o.dist.rank,
                           o.dist.world_size, o.dist.master_addr, o.dist.master_port)
        << std::flush;
    ASSIGN_OR_RETURN(pg, distributed::ProcessGroup::Create(o.dist, /*cuda=*/false));
    if (pg->rank() != 0) return RunFollower(o, *pg, log);
  }
  ASSIGN_OR_RETURN(auto policy, model::Policy::Load(o.model_dir, {}));
  ASSIGN_OR_RETURN(auto trainer, GrpoTrainer::Create(policy.get(), RankTrainerOptions(o, 0)));
  std::unique_ptr<distributed::C10dDataParallel> dp;
  std::unique_ptr<distributed::BatchExchange> exchange;
  std::unique_ptr<RankStats> rank_stats;
  if (pg) {
    dp = std::make_unique<distributed::C10dDataParallel>(pg.get(), o.dist.bucket_bytes,
                                                         o.dist.shard_optimizer, o.dist.overlap);
    trainer->set_data_parallel(dp.get());
    exchange = std::make_unique<distributed::BatchExchange>(pg.get());
    rank_stats = std::make_unique<RankStats>(pg.get());
  }
  ASSIGN_OR_RETURN(auto controller, ControllerServer::Start(o.controller, std::move(dataset)));
  LearnerMetrics lm(controller->registry());
  std::unique_ptr<broadcast::BroadcastPublisher> broadcaster;
  if (!o.controller.broadcast_address.empty()) {
    ASSIGN_OR_RETURN(broadcaster, broadcast::BroadcastPublisher::Open(
                                      o.controller.broadcast_address, o.controller.security));
  }
  std::unique_ptr<broadcast::CollectiveSender> collective;
  if (broadcaster && o.collective) {
    collective =
        std::make_unique<broadcast::CollectiveSender>(broadcaster.get(), o.collective_sender);
  }
  WeightPublisher publish = [&](int64_t version, std::string bytes) {
    if (broadcaster) {
      const auto start = Clock::now();
      absl::StatusOr<v1::PublishResponse> r;
      if (o.broadcast_dtype == safetensors::DType::kF32) {
        r = broadcaster->Publish(version, bytes, o.collective);  // as trained: no copy
      } else if (auto cast = broadcast::CastFloat32Tensors(bytes, o.broadcast_dtype); cast.ok()) {
        r = broadcaster->Publish(version, *cast, o.collective);
      } else {
        r = cast.status();
      }
      if (r.ok()) {
        lm.broadcast_seconds.Observe(Since(start));
        if (collective && r->has_collective()) {
          // The group's members wait for this version here; the others have it from the
          // chains already. A failure only sends the members to the chains.
          const auto sent = collective->Send(
              version, r->collective(),
              [&](std::vector<std::string>* names, std::vector<at::Tensor>* tensors) {
                policy->NamedParameters(names, tensors);
              });
          if (sent.ok()) {
            lm.collective_seconds.Observe(sent->seconds);
          } else {
            lm.collective_failures.Increment();
          }
        }
      } else {  // workers fall back to FetchWeights
        lm.broadcast_failures.Increment();
        log << "learner: " << r.status().message() << " (workers fetch from the controller)\n"
            << std::flush;
      }
    }
    controller->PublishWeights(version, std::move(bytes));
  };
  ControllerSource source(o, *controller, publish, *policy, lm, stop, log);
  lm.ranks.Set(static_cast<double>(o.dist.world_size));
  std::unique_ptr<Rank0Source> rank0;
  if (exchange) {
    source.set_idle([&] { return exchange->KeepAlive(); });
    rank0 = std::make_unique<Rank0Source>(&source, exchange.get(), o.dist.world_size, dp.get(),
                                          &trainer->optimizer());
  }
  GrpoLoopOptions lo;
  lo.steps = o.steps;
  lo.seed = o.trainer.seed;
  lo.checkpoint_root = o.run_dir + "/checkpoints";
  lo.checkpoint_every = o.checkpoint_every;
  lo.checkpoint_keep = o.checkpoint_keep;
  lo.tokenizer_path = o.model_dir + "/tokenizer.json";
  if (const auto& rp = controller->resumed_from()) {
    // The buffer's resume point names the checkpoint its dataset position belongs to.
    lo.resume_from = rp->checkpoint;
    log << absl::StrFormat(
               "learner: resuming at step %d from %s (dataset position %d; %d buffered groups "
               "dropped, their prompts leased again)\n",
               rp->step, rp->checkpoint, rp->dataset_position, rp->groups_dropped)
        << std::flush;
  }
  {
    nlohmann::ordered_json e;
    e["grpc"] = absl::StrCat("127.0.0.1:", controller->grpc_port());
    e["metrics"] = absl::StrCat("127.0.0.1:", controller->metrics_port());
    e["rollouts"] = controller->rollouts_endpoint();
    e["graders"] = controller->graders_endpoint();
    e["ingest"] = controller->ingest_endpoint();
    e["pid"] = static_cast<int64_t>(::getpid());
    std::ofstream(o.run_dir + "/endpoints.json.tmp") << e.dump(2) << "\n";
    fs::rename(o.run_dir + "/endpoints.json.tmp", o.run_dir + "/endpoints.json", ec);
  }
  AuditFile metrics_file, trained_file;
  const auto run_start = Clock::now();
  GrpoLoopHooks hooks;
  hooks.on_checkpoint_failed = [&](const absl::Status& error) {
    lm.checkpoint_failures.Increment();
    spdlog::error(
        "learner: checkpoint not written: {} (training goes on; the next checkpoint, "
        "or the final one every 5 s, is tried again)",
        std::string(error.message()));
  };
  hooks.on_step = [&](int64_t step, Metrics& m) -> absl::Status {
    m["ranks"] = static_cast<double>(o.dist.world_size);
    if (rank_stats) {
      ASSIGN_OR_RETURN(auto per_rank, rank_stats->Exchange(m["train_seconds"]));
      m["allreduce_seconds"] = per_rank[0][1];
      m["allreduce_bytes"] = per_rank[0][2];
      for (size_t r = 0; r < per_rank.size(); ++r) {
        const std::string rank = std::to_string(r);
        lm.rank_step_seconds.Add({{"rank", rank}}).Set(per_rank[r][0]);
        lm.allreduce_seconds.Add({{"rank", rank}}).Increment(per_rank[r][1]);
        lm.allreduce_bytes.Add({{"rank", rank}}).Increment(per_rank[r][2]);
      }
    }
    m["samples_per_second"] = m["groups"] * static_cast<double>(o.controller.group_size) /
                              std::max(1e-9, m["step_seconds"]);
    m["elapsed_seconds"] = Since(run_start);
    // A full disk delays these lines (kept in memory, written once space returns), never
    // drops them.
    const bool metrics_written = metrics_file.Append(learner::MetricsJsonLine(m));
    const bool trained_written = trained_file.Append(
        nlohmann::json({{"step", step}, {"leases", source.leases()}, {"prompts", source.prompts()}})
            .dump());
    if (!metrics_written || !trained_written) {
      spdlog::error(
          "learner: step {}: metrics.jsonl / trained.jsonl cannot be written now "
          "(disk full?); the lines wait in memory",
          step);
    }
    lm.Record(m);
    lm.steps.Increment();
    lm.groups.Increment(m["groups"]);
    lm.samples.Increment(m["groups"] * static_cast<double>(o.controller.group_size));
    lm.step_seconds.Observe(m["train_seconds"]);
    lm.wait_seconds.Observe(m["wait_seconds"]);
    lm.version.Set(static_cast<double>(step));
    lm.samples_per_second.Set(m["samples_per_second"]);
    log << absl::StrFormat(
               "  step %3d/%d  reward %.2f  acc %.2f  len %4.1f  kl %.4f  wait %.2f s  train %.2f "
               "s  lag %.1f\n",
               step, o.steps, m["reward"], m.count("accuracy") ? m["accuracy"] : 0.0,
               m["response_length"], m["kl"], m["wait_seconds"], m["train_seconds"],
               m["sample_lag_mean"])
        << std::flush;
    return absl::OkStatus();
  };
  GrpoLoop loop(policy.get(), trainer.get(),
                rank0 ? static_cast<RolloutSource*>(rank0.get()) : &source, lo, hooks);
  // Load the checkpoint (if any) before the first weights go out: workers sample with the
  // resumed policy, never the initial one.
  ASSIGN_OR_RETURN(const int64_t start_step, loop.Resume());
  if (pg) {  // the other ranks resume from the same state, and start from the same weights
    RETURN_IF_ERROR(ShareResumeState(*pg, lo.resume_from, "").status());
    RETURN_IF_ERROR(CheckSameWeights(*pg, *policy));
  }
  metrics_file = OpenAudit(o.run_dir + "/metrics.jsonl", start_step, lo.resume_from);
  trained_file = OpenAudit(o.run_dir + "/trained.jsonl", start_step, lo.resume_from);
  ASSIGN_OR_RETURN(std::string weights, policy->SerializeWeights());
  publish(start_step, std::move(weights));
  controller->SetPolicyVersion(start_step);
  log << absl::StrFormat(
             "learner: %d prompts from %s, %s (%d parameters); gRPC :%d, metrics :%d, "
             "ingest %s\n",
             rows, o.data_path, o.model_dir, policy->config().NumParameters(),
             controller->grpc_port(), controller->metrics_port(), controller->ingest_endpoint())
      << std::flush;
  absl::StatusOr<GrpoLoopResult> ran = loop.Run(&stop);
  if (exchange && ran.ok()) {
    // The final checkpoint is written: the other ranks may go. (On an error they learn it
    // from the collectives: this process's exit closes its sockets.)
    RETURN_IF_ERROR(exchange->SendDone());
  }
  if (!ran.ok()) return ran.status();
  const GrpoLoopResult& result = *ran;
  const v1::ControllerStatus st = controller->Status();
  log << absl::StrFormat(
             "learner: %d steps in %.0f s; groups ingested %d, duplicate %d, stale %d; leases "
             "expired %d; checkpoint %s\n",
             result.steps_done, Since(run_start), st.groups_ingested(), st.groups_duplicate(),
             st.groups_stale(), st.leases_expired(), result.final_checkpoint)
      << std::flush;
  controller->Shutdown();
  return absl::OkStatus();
}

}  // namespace r1rl::learner
