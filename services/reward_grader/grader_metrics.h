// The reward grader's Prometheus families, in one list (served on its /metrics). Names and
// help texts are the contract the alerts and the dashboard in deploy/ read.
#ifndef R1RL_SERVICES_REWARD_GRADER_GRADER_METRICS_H_
#define R1RL_SERVICES_REWARD_GRADER_GRADER_METRICS_H_

#include "lib/metrics/metrics.h"

namespace r1rl::reward {

struct GraderMetrics {
  metrics::Registry registry;
  metrics::Counter& m_received =
      registry
          .AddCounter("r1rl_grader_groups_received_total",
                      "Rollout groups taken in (ZeroMQ and the Grade RPC).")
          .Add({});
  metrics::Counter& m_graded =
      registry.AddCounter("r1rl_grader_groups_graded_total", "Rollout groups graded and passed on.")
          .Add({});
  metrics::Counter& m_samples =
      registry.AddCounter("r1rl_grader_samples_graded_total", "Samples graded.").Add({});
  metrics::Family<metrics::Counter>& m_dropped =
      registry.AddCounter("r1rl_grader_dropped_total", "Messages dropped, by reason.");
  metrics::Histogram& m_latency =
      registry
          .AddHistogram("r1rl_grader_group_seconds", "Time to grade one group.",
                        metrics::ExponentialBuckets(0.0001, 4, 10))
          .Add({});
  metrics::Family<metrics::Histogram>& m_reward =
      registry.AddHistogram("r1rl_grader_sample_reward", "Reward components of graded samples.",
                            metrics::LinearBuckets(0, 0.25, 5));
  metrics::Family<metrics::Gauge>& m_queue =
      registry.AddGauge("r1rl_grader_queue_depth", "Groups waiting, by queue.");
  metrics::Counter& m_cas_timeouts =
      registry
          .AddCounter("r1rl_grader_cas_timeouts_total",
                      "Symbolic comparisons stopped at their time limit.")
          .Add({});
};

}  // namespace r1rl::reward

#endif  // R1RL_SERVICES_REWARD_GRADER_GRADER_METRICS_H_
