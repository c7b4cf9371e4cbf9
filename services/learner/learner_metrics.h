// The learner's Prometheus families, in one list: they are served beside the
// controller's (lib/controller) on the learner's /metrics. Names and help texts are the
// contract the alerts and the dashboard in deploy/ read (prometheus_test checks them).
#ifndef R1RL_SERVICES_LEARNER_LEARNER_METRICS_H_
#define R1RL_SERVICES_LEARNER_LEARNER_METRICS_H_

#include "lib/metrics/metrics.h"
#include "lib/training/rollout.h"

namespace r1rl::learner {

struct LearnerMetrics {
  explicit LearnerMetrics(metrics::Registry& r)
      : steps(r.AddCounter("r1rl_learner_steps_total", "GRPO steps done.").Add({})),
        groups(r.AddCounter("r1rl_learner_groups_trained_total", "Groups trained on.").Add({})),
        samples(
            r.AddCounter("r1rl_learner_samples_trained_total", "Samples (completions) trained on.")
                .Add({})),
        dropped(r.AddCounter("r1rl_learner_groups_dropped_total",
                             "Groups not trained on, by reason (stale, no_signal, bad input).")),
        step_seconds(r.AddHistogram("r1rl_learner_step_seconds",
                                    "Optimisation time of a step (batch wait excluded).",
                                    metrics::ExponentialBuckets(0.01, 2, 16))
                         .Add({})),
        wait_seconds(r.AddHistogram("r1rl_learner_batch_wait_seconds",
                                    "Time a step waited for its rollouts.",
                                    metrics::ExponentialBuckets(0.01, 2, 16))
                         .Add({})),
        version(r.AddGauge("r1rl_learner_policy_version",
                           "Policy version (steps done) the learner has published.")
                    .Add({})),
        loss(r.AddGauge("r1rl_learner_loss", "Loss of the last step.").Add({})),
        kl(r.AddGauge("r1rl_learner_kl", "KL to the reference policy, last step.").Add({})),
        clip(r.AddGauge("r1rl_learner_clip_fraction",
                        "Share of tokens whose ratio was clipped, last step.")),
        entropy(r.AddGauge("r1rl_learner_entropy", "Mean token entropy, last step.").Add({})),
        grad_norm(r.AddGauge("r1rl_learner_grad_norm", "Gradient norm before clipping, last step.")
                      .Add({})),
        response_length(
            r.AddGauge("r1rl_learner_response_length_tokens", "Mean completion length, last batch.")
                .Add({})),
        accuracy(r.AddGauge("r1rl_learner_accuracy", "Mean accuracy reward, last batch.").Add({})),
        reward(r.AddGauge("r1rl_learner_reward",
                          "Mean reward, last batch, by component (total: component=\"total\").")),
        lr(r.AddGauge("r1rl_learner_learning_rate", "Learning rate of the last step.").Add({})),
        lag(r.AddGauge("r1rl_learner_sample_lag",
                       "Mean policy versions between sampling and training, last batch.")
                .Add({})),
        samples_per_second(
            r.AddGauge("r1rl_learner_samples_per_second",
                       "Samples trained per second of the last step (wait included).")
                .Add({})),
        broadcast_seconds(
            r.AddHistogram("r1rl_learner_broadcast_publish_seconds",
                           "Time to publish a version to the param-broadcast service.",
                           metrics::ExponentialBuckets(0.001, 2, 16))
                .Add({})),
        broadcast_failures(r.AddCounter("r1rl_learner_broadcast_failures_total",
                                        "Versions the param-broadcast service did not take "
                                        "(workers fetched them from the controller).")
                               .Add({})),
        collective_seconds(
            r.AddHistogram(
                 "r1rl_learner_collective_seconds",
                 "Time to send a version through the collective group (broadcast.collective): "
                 "the rendezvous of a new generation, the plan and the buckets.",
                 metrics::ExponentialBuckets(0.001, 2, 18))
                .Add({})),
        collective_failures(r.AddCounter("r1rl_learner_collective_failures_total",
                                         "Versions the collective group failed to deliver (its "
                                         "members took them from the relay chains).")
                                .Add({})),
        checkpoint_failures(r.AddCounter("r1rl_learner_checkpoint_failures_total",
                                         "Checkpoints that could not be written (a full disk): "
                                         "training went on; the final one is retried.")
                                .Add({})),
        ranks(
            r.AddGauge("r1rl_learner_ranks", "Data-parallel ranks the learner trains on.").Add({})),
        rank_step_seconds(r.AddGauge("r1rl_learner_rank_step_seconds",
                                     "Optimisation time of the last step, by rank.")),
        allreduce_seconds(
            r.AddCounter("r1rl_learner_allreduce_seconds_total",
                         "Time spent in the trainer's all-reduce calls (waiting for the "
                         "slowest rank included), by rank.")),
        allreduce_bytes(r.AddCounter("r1rl_learner_allreduce_bytes_total",
                                     "Bytes each rank handed to all-reduce, by rank.")) {}
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
  metrics::Histogram& broadcast_seconds;
  metrics::Counter& broadcast_failures;
  metrics::Histogram& collective_seconds;
  metrics::Counter& collective_failures;
  metrics::Counter& checkpoint_failures;
  metrics::Gauge& ranks;
  metrics::Family<metrics::Gauge>& rank_step_seconds;
  metrics::Family<metrics::Counter>& allreduce_seconds;
  metrics::Family<metrics::Counter>& allreduce_bytes;

  void Record(const Metrics& m) {
    auto get = [&](const char* k) {
      auto it = m.find(k);
      return it == m.end() ? 0.0 : it->second;
    };
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

}  // namespace r1rl::learner

#endif  // R1RL_SERVICES_LEARNER_LEARNER_METRICS_H_
