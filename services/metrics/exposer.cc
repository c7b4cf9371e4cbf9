#include "services/metrics/exposer.h"

#include <civetweb.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace r1rl::metrics {
namespace {

// civetweb's library-wide init, once per process.
void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// "0.0.0.0:9101" -> civetweb's listening_ports; "9101" stays as is.
std::string ListeningPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return address;
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "*") return port;
  return absl::StrCat(host, ":", port);
}

int HandleHealth(::mg_connection* conn, void*) {
  mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
  return 200;
}

}  // namespace

int Exposer::HandleMetrics(::mg_connection* conn, void* self) {
  auto* e = static_cast<Exposer*>(self);
  if (e->before_scrape_) e->before_scrape_();
  const std::string body = e->registry_->Serialize();
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

absl::StatusOr<std::unique_ptr<Exposer>> Exposer::Start(const std::string& address, const Registry* registry,
                                                        std::function<void()> before_scrape) {
  InitOnce();
  std::unique_ptr<Exposer> e(new Exposer());
  e->registry_ = registry;
  e->before_scrape_ = std::move(before_scrape);
  const std::string ports = ListeningPort(address);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2", nullptr};
  mg_callbacks callbacks{};
  e->ctx_ = mg_start(&callbacks, nullptr, options);
  if (e->ctx_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address ", address, ": cannot listen there"));
  }
  mg_set_request_handler(e->ctx_, "/metrics", &Exposer::HandleMetrics, e.get());
  mg_set_request_handler(e->ctx_, "/healthz", &HandleHealth, nullptr);
  mg_server_port ports_info[4];
  const int n = mg_get_server_ports(e->ctx_, 4, ports_info);
  if (n > 0) e->port_ = ports_info[0].port;
  return e;
}

Exposer::~Exposer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

}  // namespace r1rl::metrics
