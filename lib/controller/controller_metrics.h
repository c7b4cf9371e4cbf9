// The controller's Prometheus families, in one list (served on the learner's /metrics beside
// the learner's own, services/learner/learner_metrics.h). Names and help texts are the
// contract the alerts and the dashboard in deploy/ read (prometheus_test checks them).
#ifndef R1RL_LIB_CONTROLLER_CONTROLLER_METRICS_H_
#define R1RL_LIB_CONTROLLER_CONTROLLER_METRICS_H_

#include <atomic>
#include <chrono>
#include <cstdint>

#include "lib/metrics/metrics.h"

namespace r1rl::learner {

struct ControllerMetrics {
  explicit ControllerMetrics(metrics::Registry& r)
      : ingested(r.AddCounter("r1rl_controller_groups_ingested_total",
                              "Groups written to the rollout buffer.")
                     .Add({})),
        duplicate(r.AddCounter("r1rl_controller_groups_duplicate_total",
                               "Groups for a lease already ingested (dropped).")
                      .Add({})),
        stale(r.AddCounter("r1rl_controller_groups_stale_total",
                           "Groups consumed too old for the staleness bound (dropped).")
                  .Add({})),
        rejected(r.AddCounter("r1rl_controller_rejected_total", "Rejected input, by reason.")),
        forwarded(r.AddCounter("r1rl_controller_rollouts_forwarded_total",
                               "Rollout groups forwarded from workers to graders.")
                      .Add({})),
        leases(r.AddCounter("r1rl_controller_leases_granted_total",
                            "Leases granted (first attempts and re-grants).")
                   .Add({})),
        expired(r.AddCounter("r1rl_controller_leases_expired_total",
                             "Leases that passed their deadline (granted again).")
                    .Add({})),
        regranted(r.AddCounter("r1rl_controller_leases_reissued_total",
                               "Expired leases granted again (same lease id, next attempt).")
                      .Add({})),
        weight_fetches(r.AddCounter("r1rl_controller_weight_fetches_total",
                                    "Weight streams served to workers.")
                           .Add({})),
        weight_bytes(r.AddCounter("r1rl_controller_weight_bytes_sent_total",
                                  "Weight bytes streamed to workers.")
                         .Add({})),
        state(r.AddGauge("r1rl_controller_state", "Controller state, by quantity.")),
        rpc_seconds(r.AddHistogram(
            "r1rl_controller_rpc_seconds",
            "Seconds in the controller's gRPC handlers, by method: from the parsed request to "
            "the built response (TLS, HTTP/2 and queueing for a thread not included; "
            "LeasePrompts includes its wait_ms).",
            metrics::ExponentialBuckets(0.0001, 2, 18))) {}

  metrics::Counter& ingested;
  metrics::Counter& duplicate;
  metrics::Counter& stale;
  metrics::Family<metrics::Counter>& rejected;
  metrics::Counter& forwarded;
  metrics::Counter& leases;
  metrics::Counter& expired;
  metrics::Counter& regranted;
  metrics::Counter& weight_fetches;
  metrics::Counter& weight_bytes;
  metrics::Family<metrics::Gauge>& state;
  metrics::Family<metrics::Histogram>& rpc_seconds;  // 0.1 ms .. 13 s, doubling

  // The lease manager counts expiries and re-grants; the counters follow its totals.
  void ExportLeaseTotals(int64_t expired_total, int64_t regranted_total) {
    Follow(expired, expired_exported_, expired_total);
    Follow(regranted, regranted_exported_, regranted_total);
  }

 private:
  static void Follow(metrics::Counter& counter, std::atomic<int64_t>& exported, int64_t now) {
    const int64_t before = exported.exchange(now);
    if (now > before) counter.Increment(static_cast<double>(now - before));
  }
  std::atomic<int64_t> expired_exported_{0}, regranted_exported_{0};
};

// Observes the seconds of one handler's call into rpc_seconds{method} when it goes out of
// scope: `RpcTimer t(core_.m.rpc_seconds, "LeasePrompts");` first thing in the handler.
class RpcTimer {
 public:
  RpcTimer(metrics::Family<metrics::Histogram>& family, const char* method)
      : histogram_(family.Add({{"method", method}})), start_(std::chrono::steady_clock::now()) {}
  ~RpcTimer() {
    histogram_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  RpcTimer(const RpcTimer&) = delete;
  RpcTimer& operator=(const RpcTimer&) = delete;

 private:
  metrics::Histogram& histogram_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_CONTROLLER_METRICS_H_
