// Serves a Registry as Prometheus text on http://<address>/metrics, plus /healthz. One per
// service process: a small HTTP/1.1 server of its own. One thread multiplexes every
// connection with poll(2), so slow or idle clients cannot starve others: each connection
// has a total time limit (reading the request and writing the answer), requests are capped
// at 8 KiB, and when `max_connections` are open the oldest one still sending its request is
// closed to make room. 50 idle connections leave /healthz answering in well under 100 ms
// (tests/metrics: Exposer.FiftyIdleClientsDoNotDelayHealthz).
//
// With `check_token` set, /metrics answers 401 unless the request carries
// "Authorization: Bearer <token>" that it accepts; /healthz stays open (probes carry no secrets).
// The exposer's own figures are appended to each scrape: r1rl_http_requests_total{path,code} and
// r1rl_http_dropped_total{reason="timeout"|"evicted"|"too_large"}.
//
// Why not civetweb (the design's choice): civetweb 1.15 from Debian cannot start its worker
// threads in a process that has loaded Debian's libtorch_cpu 1.13 (mg_start fails with
// "Cannot create first worker thread"; measured with a 10-line program), and the learner and
// the rollout worker load LibTorch. Serving a scrape needs none of civetweb's features.
//
//   ASSIGN_OR_RETURN(auto exposer, Exposer::Start("127.0.0.1:9101", &registry));
//   exposer->port();   // the bound port (useful with port 0)
#ifndef R1RL_LIB_METRICS_EXPOSER_H_
#define R1RL_LIB_METRICS_EXPOSER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "lib/metrics/metrics.h"

namespace r1rl::metrics {

struct ExposerOptions {
  // When set, /metrics needs "Authorization: Bearer <token>" that it accepts (else 401).
  std::function<bool(const std::string& token)> check_token;
  int request_timeout_ms = 2000;  // per connection: request read + answer written
  int max_connections = 256;
};

class Exposer {
 public:
  // `address` is "host:port", "*:port" (all interfaces) or "port" (loopback); port 0 picks a
  // free one.
  // `before_scrape` (optional) runs before each serialisation, to refresh gauges that are
  // sampled rather than pushed. InvalidArgument when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<Exposer>> Start(const std::string& address,
                                                        const Registry* registry,
                                                        std::function<void()> before_scrape = {},
                                                        ExposerOptions options = {});
  ~Exposer();
  int port() const { return port_; }
  int64_t scrapes() const { return scrapes_; }

 private:
  struct Connection;
  Exposer() = default;
  void Serve();
  // The full answer to one complete request (`request` holds at least the header block).
  std::string Answer(const std::string& request);
  std::string OwnMetrics() const;
  int listen_fd_ = -1;
  int port_ = 0;
  const Registry* registry_ = nullptr;
  std::function<void()> before_scrape_;
  ExposerOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> scrapes_{0};
  // r1rl_http_requests_total by (path, code), and drops by reason; touched by Serve only.
  std::map<std::pair<std::string, int>, int64_t> requests_;
  int64_t dropped_timeout_ = 0, dropped_evicted_ = 0, dropped_too_large_ = 0;
  std::thread thread_;
};

}  // namespace r1rl::metrics

#endif  // R1RL_LIB_METRICS_EXPOSER_H_
