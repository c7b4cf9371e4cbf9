// The rollout worker's Prometheus families, in one list (served on its /metrics). Names and
// help texts are the contract the alerts and the dashboard in deploy/ read.
#ifndef R1RL_SERVICES_ROLLOUT_WORKER_WORKER_METRICS_H_
#define R1RL_SERVICES_ROLLOUT_WORKER_WORKER_METRICS_H_

#include "lib/metrics/metrics.h"

namespace r1rl::rollout {

struct WorkerMetrics {
  metrics::Registry registry;
  metrics::Counter& m_tokens =
      registry.AddCounter("r1rl_worker_tokens_generated_total", "Completion tokens sampled.")
          .Add({});
  metrics::Counter& m_generate_seconds =
      registry
          .AddCounter("r1rl_worker_generate_seconds_total",
                      "Seconds spent sampling (tokens/s = rate of tokens over rate of this).")
          .Add({});
  metrics::Counter& m_groups =
      registry
          .AddCounter("r1rl_worker_groups_pushed_total", "Rollout groups pushed to the graders.")
          .Add({});
  metrics::Counter& m_leases =
      registry.AddCounter("r1rl_worker_prompts_leased_total", "Prompts leased from the controller.")
          .Add({});
  metrics::Gauge& m_version =
      registry.AddGauge("r1rl_worker_policy_version", "Policy version of the weights sampled with.")
          .Add({});
  metrics::Gauge& m_lag =
      registry
          .AddGauge("r1rl_worker_policy_lag",
                    "The learner's newest version minus the worker's, at the last lease.")
          .Add({});
  metrics::Gauge& m_occupancy =
      registry
          .AddGauge("r1rl_worker_batch_occupancy",
                    "Sequences in the last generation batch over generation.max_batch.")
          .Add({});
  metrics::Counter& m_fetches = registry
                                    .AddCounter("r1rl_worker_weight_fetches_total",
                                                "New policy versions fetched and swapped in.")
                                    .Add({});
  metrics::Family<metrics::Counter>& m_fetch_failures = registry.AddCounter(
      "r1rl_worker_weight_fetch_failures_total", "Weight fetches refused, by reason.");
  metrics::Histogram& m_fetch_seconds =
      registry
          .AddHistogram("r1rl_worker_weight_fetch_seconds",
                        "Time to fetch, check and load a policy version.",
                        metrics::ExponentialBuckets(0.001, 4, 10))
          .Add({});
  metrics::Histogram& m_round_seconds =
      registry
          .AddHistogram("r1rl_worker_round_seconds", "Lease, sample and push of one batch.",
                        metrics::ExponentialBuckets(0.01, 2, 14))
          .Add({});
};

}  // namespace r1rl::rollout

#endif  // R1RL_SERVICES_ROLLOUT_WORKER_WORKER_METRICS_H_
