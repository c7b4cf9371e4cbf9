// Serves a Registry as Prometheus text on http://<address>/metrics, plus /healthz. One per
// service process: a small HTTP/1.1 server of its own (one thread, one request at a time;
// each is read with an 8 KiB cap and a 2 s limit, answered, and the connection closed, so
// a client that never sends delays a scrape by 2 s at most).
//
// Why not civetweb (the design's choice): civetweb 1.15 from Debian cannot start its worker
// threads in a process that has loaded Debian's libtorch_cpu 1.13 (mg_start fails with
// "Cannot create first worker thread"; measured with a 10-line program), and the learner and
// the rollout worker load LibTorch. Serving a scrape needs none of civetweb's features.
//
//   ASSIGN_OR_RETURN(auto exposer, Exposer::Start("0.0.0.0:9101", &registry));
//   exposer->port();   // the bound port (useful with port 0)
#ifndef R1RL_LIB_METRICS_EXPOSER_H_
#define R1RL_LIB_METRICS_EXPOSER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "lib/metrics/metrics.h"

namespace r1rl::metrics {

class Exposer {
 public:
  // `address` is "host:port" or "port" (all interfaces); port 0 picks a free one.
  // `before_scrape` (optional) runs before each serialisation, to refresh gauges that are
  // sampled rather than pushed. InvalidArgument when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<Exposer>> Start(const std::string& address,
                                                        const Registry* registry,
                                                        std::function<void()> before_scrape = {});
  ~Exposer();
  int port() const { return port_; }
  int64_t scrapes() const { return scrapes_; }

 private:
  Exposer() = default;
  void Serve();
  void Handle(int fd);
  int listen_fd_ = -1;
  int port_ = 0;
  const Registry* registry_ = nullptr;
  std::function<void()> before_scrape_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> scrapes_{0};
  std::thread thread_;
};

}  // namespace r1rl::metrics

#endif  // R1RL_LIB_METRICS_EXPOSER_H_
