// The parameter-broadcast service's Prometheus families, in one list (served on its
// /metrics). Names and help texts are the contract the dashboard in deploy/ reads.
#ifndef R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_METRICS_H_
#define R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_METRICS_H_

#include "lib/metrics/metrics.h"

namespace r1rl::broadcast {

struct BroadcastMetrics {
  metrics::Registry registry;
  metrics::Counter& m_published =
      registry.AddCounter("r1rl_broadcast_versions_published_total", "Policy versions published.")
          .Add({});
  metrics::Gauge& m_newest =
      registry.AddGauge("r1rl_broadcast_newest_version", "The newest version published (-1: none).")
          .Add({});
  metrics::Counter& m_bytes_published =
      registry
          .AddCounter("r1rl_broadcast_bytes_published_total", "Weight bytes the learner published.")
          .Add({});
  metrics::Counter& m_bytes_sent =
      registry
          .AddCounter("r1rl_broadcast_bytes_sent_total",
                      "Chunk bytes the service itself sent (the roots of the relay chains).")
          .Add({});
  metrics::Gauge& m_copies =
      registry
          .AddGauge("r1rl_broadcast_newest_copies_sent",
                    "Bytes the service sent of the newest version over its size: how many times "
                    "the service sent each byte (about broadcast.fanout whatever the receivers).")
          .Add({});
  metrics::Counter& m_bytes_relayed =
      registry
          .AddCounter("r1rl_broadcast_bytes_relayed_total",
                      "Chunk bytes receivers served to their children (their reports).")
          .Add({});
  metrics::Counter& m_bytes_received =
      registry
          .AddCounter("r1rl_broadcast_bytes_received_total",
                      "Chunk bytes receivers took from their parents (their reports).")
          .Add({});
  metrics::Histogram& m_seconds_to_all =
      registry
          .AddHistogram("r1rl_broadcast_seconds_to_all",
                        "From publish until every receiver known at publish holds the version "
                        "(checked).",
                        metrics::ExponentialBuckets(0.01, 2, 14))
          .Add({});
  metrics::Gauge& m_last_seconds_to_all =
      registry
          .AddGauge("r1rl_broadcast_last_seconds_to_all",
                    "r1rl_broadcast_seconds_to_all of the last version that reached everyone.")
          .Add({});
  metrics::Family<metrics::Gauge>& m_lag = registry.AddGauge(
      "r1rl_broadcast_receiver_version_lag",
      "Newest version minus the version a receiver holds, by receiver (-1: the receiver left).");
  metrics::Gauge& m_receivers =
      registry.AddGauge("r1rl_broadcast_receivers", "Receivers joined and live.").Add({});
  metrics::Counter& m_chunks_unchanged =
      registry
          .AddCounter("r1rl_broadcast_chunks_unchanged_total",
                      "Chunks of a published version with the same hash as in the version before.")
          .Add({});
  metrics::Counter& m_chunks_skipped =
      registry
          .AddCounter("r1rl_broadcast_chunks_skipped_total",
                      "Chunks receivers did not fetch because they held them (their reports).")
          .Add({});
  metrics::Counter& m_hash_failures =
      registry
          .AddCounter("r1rl_broadcast_hash_failures_total",
                      "Chunks that failed their hash at a receiver and were fetched again.")
          .Add({});
  metrics::Family<metrics::Counter>& m_reparents =
      registry.AddCounter("r1rl_broadcast_reparents_total",
                          "Receivers given a new parent after theirs failed them, by reason.");
  metrics::Counter& m_slow_moved =
      registry
          .AddCounter("r1rl_broadcast_slow_receivers_moved_total",
                      "Receivers moved to the tail of a chain for falling behind their parent.")
          .Add({});
  metrics::Counter& m_versions_skipped =
      registry
          .AddCounter("r1rl_broadcast_versions_skipped_total",
                      "Versions receivers abandoned for a newer one before they completed.")
          .Add({});
  metrics::Family<metrics::Counter>& m_collective_versions = registry.AddCounter(
      "r1rl_broadcast_collective_versions_total",
      "Versions the learner sent through the collective group, by outcome (ok, failed: its "
      "members took the relay chains; no_rendezvous: the learner never said where to meet).");
  metrics::Gauge& m_collective_generation =
      registry
          .AddGauge("r1rl_broadcast_collective_generation",
                    "The collective group's generation (0: none formed); it rises at each change.")
          .Add({});
  metrics::Gauge& m_collective_members =
      registry
          .AddGauge("r1rl_broadcast_collective_members",
                    "Receivers in the working collective group (0: none, or it failed).")
          .Add({});
  metrics::Counter& m_collective_bytes =
      registry
          .AddCounter("r1rl_broadcast_collective_bytes_total",
                      "Weight bytes the learner sent through the collective group (as on the "
                      "wire, each member receiving them once).")
          .Add({});
  metrics::Family<metrics::Counter>& m_rejected = registry.AddCounter(
      "r1rl_broadcast_rejected_total", "Requests refused as bad input, by reason.");
};

}  // namespace r1rl::broadcast

#endif  // R1RL_SERVICES_PARAM_BROADCAST_BROADCAST_METRICS_H_
