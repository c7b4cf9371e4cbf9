// Serves a Registry as Prometheus text on http://<address>/metrics (civetweb), plus
// /healthz. One per service process.
//
//   ASSIGN_OR_RETURN(auto exposer, Exposer::Start("0.0.0.0:9101", &registry));
//   exposer->port();   // the bound port (useful with port 0)
#ifndef R1RL_SERVICES_METRICS_EXPOSER_H_
#define R1RL_SERVICES_METRICS_EXPOSER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/metrics/metrics.h"

struct mg_context;
struct mg_connection;

namespace r1rl::metrics {

class Exposer {
 public:
  // `address` is "host:port" or "port"; port 0 picks a free one. `before_scrape` (optional)
  // runs before each serialisation, to refresh gauges that are sampled rather than pushed.
  static absl::StatusOr<std::unique_ptr<Exposer>> Start(const std::string& address, const Registry* registry,
                                                        std::function<void()> before_scrape = {});
  ~Exposer();
  int port() const { return port_; }

 private:
  Exposer() = default;
  static int HandleMetrics(::mg_connection* conn, void* self);
  mg_context* ctx_ = nullptr;
  const Registry* registry_ = nullptr;
  std::function<void()> before_scrape_;
  int port_ = 0;
};

}  // namespace r1rl::metrics

#endif  // R1RL_SERVICES_METRICS_EXPOSER_H_
