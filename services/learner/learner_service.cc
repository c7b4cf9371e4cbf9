#include "services/learner/learner_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/learner/advantages.h"
#include "services/learner/learner_config.h"
#include "services/learner/metrics_json.h"
#include "services/metrics/metrics.h"
#include "services/model/policy.h"
#include "services/status/status_macros.h"

namespace r1rl::learner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Why a group from the wire cannot be trained on; "" when it can.
std::string CheckGroup(const v1::RolloutGroup& g, int64_t group_size, const model::ModelConfig& mc) {
  if (g.samples_size() != group_size) return "group_size";
  if (g.prompt_ids_size() == 0) return "empty_prompt";
  auto in_vocab = [&](int32_t id) { return id >= 0 && id < mc.vocab_size; };
  if (!std::all_of(g.prompt_ids().begin(), g.prompt_ids().end(), in_vocab)) return "token_id";
  for (const v1::Sample& s : g.samples()) {
    if (s.completion_ids_size() == 0) return "empty_completion";
    if (s.completion_ids_size() != s.behaviour_logprobs_size()) return "logprobs";
    if (!std::all_of(s.completion_ids().begin(), s.completion_ids().end(), in_vocab)) return "token_id";
    if (g.prompt_ids_size() + s.completion_ids_size() > mc.max_position_embeddings) return "too_long";
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
      const double pen = OverlongPenalty(static_cast<int64_t>(r.completion_ids.size()), o.max_new_tokens,
                                         o.overlong_cache_length);
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

// The learner's Prometheus families, beside the controller's on the same /metrics.
struct LearnerMetrics {
  explicit LearnerMetrics(metrics::Registry& r)
      : steps(r.AddCounter("r1rl_learner_steps_total", "GRPO steps done.").Add({})),
        groups(r.AddCounter("r1rl_learner_groups_trained_total", "Groups trained on.").Add({})),
        samples(r.AddCounter("r1rl_learner_samples_trained_total", "Samples (completions) trained on.").Add({})),
        dropped(r.AddCounter("r1rl_learner_groups_dropped_total", "Groups not trained on, by reason (stale, no_signal, bad input).")),
        step_seconds(r.AddHistogram("r1rl_learner_step_seconds", "Optimisation time of a step (batch wait excluded).",
                                    metrics::ExponentialBuckets(0.01, 2, 16)).Add({})),
        wait_seconds(r.AddHistogram("r1rl_learner_batch_wait_seconds", "Time a step waited for its rollouts.",
                                    metrics::ExponentialBuckets(0.01, 2, 16)).Add({})),
        version(r.AddGauge("r1rl_learner_policy_version", "Policy version (steps done) the learner has published.").Add({})),
        loss(r.AddGauge("r1rl_learner_loss", "Loss of the last step.").Add({})),
        kl(r.AddGauge("r1rl_learner_kl", "KL to the reference policy, last step.").Add({})),
        clip(r.AddGauge("r1rl_learner_clip_fraction", "Share of tokens whose ratio was clipped, last step.")),
        entropy(r.AddGauge("r1rl_learner_entropy", "Mean token entropy, last step.").Add({})),
        grad_norm(r.AddGauge("r1rl_learner_grad_norm", "Gradient norm before clipping, last step.").Add({})),
        response_length(r.AddGauge("r1rl_learner_response_length_tokens", "Mean completion length, last batch.").Add({})),
        accuracy(r.AddGauge("r1rl_learner_accuracy", "Mean accuracy reward, last batch.").Add({})),
        reward(r.AddGauge("r1rl_learner_reward", "Mean reward, last batch, by component (total: component=\"total\").")),
        lr(r.AddGauge("r1rl_learner_learning_rate", "Learning rate of the last step.").Add({})),
        lag(r.AddGauge("r1rl_learner_sample_lag", "Mean policy versions between sampling and training, last batch.").Add({})),
        samples_per_second(r.AddGauge("r1rl_learner_samples_per_second", "Samples trained per second of the last step (wait included).").Add({})) {}
  metrics::Counter& steps;
  metrics::Counter& groups;
  metrics::Counter& samples;
  metrics::Family<metrics::Counter>& dropped;
  metrics::Histogram& step_seconds;
  metrics::Histogram& wait_seconds;
  metrics::Gauge& version;
  metrics::Gauge& loss;
  metrics::Gauge& kl;
  metrics::Family<metrics::Gauge>& clip;
  metrics::Gauge& entropy;
  metrics::Gauge& grad_norm;
  metrics::Gauge& response_length;
  metrics::Gauge& accuracy;
  metrics::Family<metrics::Gauge>& reward;
  metrics::Gauge& lr;
  metrics::Gauge& lag;
  metrics::Gauge& samples_per_second;

  void Record(const Metrics& m) {
    auto get = [&](const char* k) { auto it = m.find(k); return it == m.end() ? 0.0 : it->second; };
    loss.Set(get("loss"));
    kl.Set(get("kl"));
    clip.Add({{"side", "low"}}).Set(get("clip_frac_low"));
    clip.Add({{"side", "high"}}).Set(get("clip_frac_high"));
    entropy.Set(get("entropy"));
    grad_norm.Set(get("grad_norm"));
    response_length.Set(get("response_length"));
    accuracy.Set(get("accuracy"));
    lr.Set(get("lr"));
    lag.Set(get("sample_lag_mean"));
    reward.Add({{"component", "total"}}).Set(get("reward"));
    for (const auto& [k, v] : m) {
      if (k.rfind("reward/", 0) == 0) reward.Add({{"component", k.substr(7)}}).Set(v);
    }
  }
};

// checkpoints/<name>: the policy (a model folder: config.json, safetensors, tokenizer.json)
// and optimizer.safetensors; then the buffer's resume point names it, and the
// Admin.CheckpointNow requests made before it started are answered with it.
absl::Status SaveCheckpoint(const model::Policy& policy, GrpoTrainer& trainer, ControllerServer& controller,
                            const LearnerOptions& o, const std::string& name, int64_t step) {
  const int64_t pending = controller.PendingCheckpoints();
  const std::string dir = o.run_dir + "/checkpoints/" + name;
  RETURN_IF_ERROR(policy.Save(dir));
  RETURN_IF_ERROR(trainer.optimizer().Save(dir + "/optimizer.safetensors"));
  std::error_code ec;
  fs::copy_file(o.model_dir + "/tokenizer.json", dir + "/tokenizer.json", fs::copy_options::overwrite_existing, ec);
  // (a model folder without tokenizer.json stays one)
  RETURN_IF_ERROR(controller.SaveResumePoint(step, dir));
  controller.CheckpointSaved(pending, step, dir);
  return absl::OkStatus();
}

// Admin.CheckpointNow requests waiting: save checkpoints/step-N (which answers them).
absl::Status ServeCheckpointRequests(const model::Policy& policy, GrpoTrainer& trainer, ControllerServer& controller,
                                     const LearnerOptions& o, int64_t step) {
  if (controller.PendingCheckpoints() == 0) return absl::OkStatus();
  spdlog::info("learner: checkpoint step-{} (asked for)", step);
  return SaveCheckpoint(policy, trainer, controller, o, absl::StrCat("step-", step), step);
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
  if (o.model_dir.empty()) return bad("learner.model", "\"\"", "a model folder (config.json, safetensors) is needed");
  if (o.run_dir.empty()) return bad("learner.run_dir", "\"\"", "a folder for the buffer, metrics and checkpoints is needed");
  o.steps = cfg.GetInt("grpo.steps");
  o.prompts_per_step = cfg.GetInt("grpo.prompts_per_step");
  o.max_new_tokens = cfg.GetInt("generation.max_new_tokens");
  o.overlong_cache_length = cfg.GetInt("grpo.overlong_cache_length");
  o.dynamic_sampling = cfg.GetBool("grpo.dynamic_sampling");
  o.epochs = cfg.GetInt("learner.epochs");
  o.checkpoint_every = cfg.GetInt("learner.checkpoint_every");
  if (o.steps < 0) return bad("grpo.steps", o.steps, "must be >= 0");
  if (o.prompts_per_step < 1 || o.prompts_per_step > 65536) return bad("grpo.prompts_per_step", o.prompts_per_step, "must be in 1..65536");
  if (o.epochs < 0) return bad("learner.epochs", o.epochs, "must be >= 0");
  if (o.checkpoint_every < 0) return bad("learner.checkpoint_every", o.checkpoint_every, "must be >= 0");
  o.trainer.optimizer.schedule.total_steps = o.steps * o.trainer.ppo_epochs * o.trainer.mini_batches;
  o.controller.resume = cfg.GetBool("learner.resume");
  o.controller.lease_after_weights = true;

  ControllerOptions& c = o.controller;
  c.grpc_address = cfg.GetString("learner.grpc_address");
  c.rollouts_address = cfg.GetString("learner.rollouts_address");
  c.graders_address = cfg.GetString("learner.graders_address");
  c.ingest_address = cfg.GetString("learner.ingest_address");
  c.metrics_address = cfg.GetString("learner.metrics_address");
  c.buffer_path = o.run_dir + "/buffer";
  const int64_t g = cfg.GetInt("generation.num_samples");
  if (g < 2 || g > 4096) return bad("generation.num_samples", g, "GRPO needs a group of 2..4096");
  c.group_size = static_cast<int32_t>(g);
  const double lease_s = cfg.GetDouble("learner.lease_seconds");
  if (!(lease_s >= 0.1 && lease_s <= 86400)) return bad("learner.lease_seconds", lease_s, "must be in [0.1, 86400]");
  c.leases.lease_duration = std::chrono::milliseconds(static_cast<int64_t>(lease_s * 1000));
  c.leases.max_staleness = cfg.GetInt("grpo.max_policy_lag");
  if (c.leases.max_staleness < 0) return bad("grpo.max_policy_lag", c.leases.max_staleness, "must be >= 0");
  c.leases.groups_per_step = o.prompts_per_step;
  return o;
}

absl::Status RunLearner(const LearnerOptions& o, const std::atomic<bool>& stop, std::ostream& log) {
  std::error_code ec;
  fs::create_directories(o.run_dir + "/checkpoints", ec);
  if (ec) return absl::InternalError(absl::StrCat("learner.run_dir = ", o.run_dir, ": ", ec.message()));
  ASSIGN_OR_RETURN(PromptDataset dataset, PromptDataset::Load(o.data_path));
  const int64_t rows = static_cast<int64_t>(dataset.size());
  dataset.set_epochs(o.epochs > 0 ? o.epochs
                                  : std::max<int64_t>(1, (o.steps * o.prompts_per_step + rows - 1) / std::max<int64_t>(1, rows) +
                                                             (o.dynamic_sampling ? 2 : 0)));
  ASSIGN_OR_RETURN(auto policy, model::Policy::Load(o.model_dir, {}));
  GrpoTrainerOptions topt = o.trainer;
  ASSIGN_OR_RETURN(auto trainer, GrpoTrainer::Create(policy.get(), topt));
  ASSIGN_OR_RETURN(auto controller, ControllerServer::Start(o.controller, std::move(dataset)));
  int64_t step = 0;
  if (const auto& rp = controller->resumed_from()) {
    // The reference (KL) stays the initial model: the trainer copied it above.
    ASSIGN_OR_RETURN(auto saved, model::Policy::Load(rp->checkpoint, {}));
    if (saved->config().NumParameters() != policy->config().NumParameters()) {
      return absl::FailedPreconditionError(absl::StrCat("resume: ", rp->checkpoint, " is not a checkpoint of ", o.model_dir));
    }
    CopyWeights(*saved, policy.get());
    if (fs::exists(rp->checkpoint + "/optimizer.safetensors")) {
      RETURN_IF_ERROR(trainer->optimizer().Load(rp->checkpoint + "/optimizer.safetensors"));
    }
    trainer->set_steps_done(rp->step);
    step = rp->step;
    log << absl::StrFormat("learner: resuming at step %d from %s (dataset position %d; %d buffered groups dropped, "
                           "their prompts leased again)\n",
                           rp->step, rp->checkpoint, rp->dataset_position, rp->groups_dropped)
        << std::flush;
  }
  LearnerMetrics lm(controller->registry());
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
  ASSIGN_OR_RETURN(std::string weights, policy->SerializeWeights());
  controller->PublishWeights(step, std::move(weights));
  controller->SetPolicyVersion(step);
  log << absl::StrFormat("learner: %d prompts from %s, %s (%d parameters); gRPC :%d, metrics :%d, ingest %s\n", rows,
                         o.data_path, o.model_dir, policy->config().NumParameters(), controller->grpc_port(),
                         controller->metrics_port(), controller->ingest_endpoint())
      << std::flush;

  // A resumed run appends (steps after its checkpoint that were lost appear twice).
  const auto mode = step > 0 ? std::ios::app : std::ios::trunc;
  std::ofstream metrics_file(o.run_dir + "/metrics.jsonl", mode);
  std::ofstream trained_file(o.run_dir + "/trained.jsonl", mode);  // the audit: leases per step
  const int64_t group_size = o.controller.group_size;
  const auto run_start = Clock::now();
  for (; step < o.steps && !stop; ++step) {
    const auto wait_start = Clock::now();
    Batch batch;
    auto last_note = Clock::now();
    bool done = false;
    std::vector<std::string> dropped_leases;  // taken, not trained on: done with all the same
    while (batch.groups < o.prompts_per_step && !stop) {
      RETURN_IF_ERROR(ServeCheckpointRequests(*policy, *trainer, *controller, o, step));
      ASSIGN_OR_RETURN(TrainBatch got, controller->TakeBatch(o.prompts_per_step - batch.groups,
                                                             Clock::now() + std::chrono::milliseconds(500)));
      batch.stale += got.stale_dropped;
      int64_t discarded = 0;
      if (got.stale_dropped > 0) lm.dropped.Add({{"reason", "stale"}}).Increment(static_cast<double>(got.stale_dropped));
      for (const v1::RolloutGroup& g : got.groups) {
        const std::string why = CheckGroup(g, group_size, policy->config());
        if (!why.empty()) {
          ++batch.bad[why];
          lm.dropped.Add({{"reason", why}}).Increment();
          spdlog::warn("learner: group {} from {} dropped: {}", g.lease_id(), g.worker_id(), why);
          dropped_leases.push_back(g.lease_id());
          ++discarded;
          continue;
        }
        if (o.dynamic_sampling) {
          std::vector<double> r;
          for (const v1::Sample& s : g.samples()) r.push_back(s.reward());
          if (!GroupHasSignal(r)) {
            ++batch.filtered;
            lm.dropped.Add({{"reason", "no_signal"}}).Increment();
            dropped_leases.push_back(g.lease_id());
            ++discarded;
            continue;
          }
        }
        AddGroup(o, g, &batch);
      }
      controller->DiscardGroups(discarded);
      if (got.groups.empty()) {
        const v1::ControllerStatus st = controller->Status();
        if ((st.dataset_exhausted() || st.draining()) && st.leases_outstanding() == 0 && st.groups_unconsumed() == 0) {
          done = true;
          break;
        }
        if (Since(last_note) > 30) {
          log << absl::StrFormat("learner: step %d waits for rollouts: %d/%d groups; %d workers, %d leases out\n",
                                 step + 1, batch.groups, o.prompts_per_step, st.workers(), st.leases_outstanding())
              << std::flush;
          last_note = Clock::now();
        }
      }
    }
    controller->Trained(dropped_leases);
    if (stop || batch.groups == 0) break;
    const double wait = Since(wait_start);
    const auto train_start = Clock::now();
    ASSIGN_OR_RETURN(Metrics m, trainer->Step(&batch.rollouts, group_size));
    ASSIGN_OR_RETURN(std::string bytes, policy->SerializeWeights());
    controller->PublishWeights(step + 1, std::move(bytes));
    controller->SetPolicyVersion(step + 1);
    const double train = Since(train_start);
    controller->Trained(batch.leases);
    BatchStats(batch, step, &m);
    m["step"] = static_cast<double>(step + 1);
    m["groups"] = static_cast<double>(batch.groups);
    m["groups_stale"] = static_cast<double>(batch.stale);
    m["groups_filtered"] = static_cast<double>(batch.filtered);
    int64_t bad = 0;
    for (const auto& [k, v] : batch.bad) bad += v;
    m["groups_bad"] = static_cast<double>(bad);
    m["wait_seconds"] = wait;
    m["train_seconds"] = train;
    m["step_seconds"] = wait + train;
    m["samples_per_second"] = static_cast<double>(batch.rollouts.size()) / std::max(1e-9, wait + train);
    m["elapsed_seconds"] = Since(run_start);
    metrics_file << learner::MetricsJsonLine(m) << "\n" << std::flush;
    trained_file << nlohmann::json({{"step", step + 1}, {"leases", batch.leases}, {"prompts", batch.prompts}}).dump() << "\n"
                 << std::flush;
    lm.Record(m);
    lm.steps.Increment();
    lm.groups.Increment(static_cast<double>(batch.groups));
    lm.samples.Increment(static_cast<double>(batch.rollouts.size()));
    lm.step_seconds.Observe(train);
    lm.wait_seconds.Observe(wait);
    lm.version.Set(static_cast<double>(step + 1));
    lm.samples_per_second.Set(m["samples_per_second"]);
    log << absl::StrFormat("  step %3d/%d  reward %.2f  acc %.2f  len %4.1f  kl %.4f  wait %.2f s  train %.2f s  lag %.1f\n",
                           step + 1, o.steps, m["reward"], m.count("accuracy") ? m["accuracy"] : 0.0,
                           m["response_length"], m["kl"], wait, train, m["sample_lag_mean"])
        << std::flush;
    if (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) {
      RETURN_IF_ERROR(SaveCheckpoint(*policy, *trainer, *controller, o, absl::StrCat("step-", step + 1), step + 1));
    }
    RETURN_IF_ERROR(ServeCheckpointRequests(*policy, *trainer, *controller, o, step + 1));
    if (done) {
      ++step;
      break;
    }
  }
  RETURN_IF_ERROR(SaveCheckpoint(*policy, *trainer, *controller, o, "final", step));
  const v1::ControllerStatus st = controller->Status();
  log << absl::StrFormat(
             "learner: %d steps in %.0f s; groups ingested %d, duplicate %d, stale %d; leases expired %d; "
             "checkpoint %s/checkpoints/final\n",
             step, Since(run_start), st.groups_ingested(), st.groups_duplicate(), st.groups_stale(),
             st.leases_expired(), o.run_dir)
      << std::flush;
  controller->Shutdown();
  return absl::OkStatus();
}

}  // namespace r1rl::learner
