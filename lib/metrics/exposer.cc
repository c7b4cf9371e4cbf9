#include "lib/metrics/exposer.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace r1rl::metrics {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
using Clock = std::chrono::steady_clock;

std::string Response(int code, const char* reason, const char* type, const std::string& body,
                     bool head_only = false) {
  return absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      head_only ? "" : body);
}

bool HeaderComplete(const std::string& request) {
  return request.find("\r\n\r\n") != std::string::npos || request.find("\n\n") != std::string::npos;
}

// The value of header `name` (case-insensitive), "" when absent.
std::string HeaderValue(const std::string& request, const std::string& name) {
  size_t line = request.find('\n');
  while (line != std::string::npos && line + 1 < request.size()) {
    const size_t begin = line + 1, end = request.find('\n', begin);
    const std::string header =
        request.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    const size_t colon = header.find(':');
    if (colon != std::string::npos && absl::EqualsIgnoreCase(header.substr(0, colon), name)) {
      return std::string(absl::StripAsciiWhitespace(header.substr(colon + 1)));
    }
    line = end;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<Exposer>> Exposer::Start(const std::string& address,
                                                        const Registry* registry,
                                                        std::function<void()> before_scrape,
                                                        ExposerOptions options) {
  std::string host = "127.0.0.1", port = address;  // a bare port: loopback
  if (const size_t colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.empty() || host == "*") host = "0.0.0.0";
  }
  char* end = nullptr;
  const long port_number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", address, ": the port must be 0..65535"));
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", address, ": ", gai_strerror(rc)));
  }
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);  // accept never blocks
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok =
      fd >= 0 && ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 64) == 0;
  ::freeaddrinfo(res);
  if (!ok) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", address, ": cannot listen there (", why, ")"));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::unique_ptr<Exposer> e(new Exposer());
  e->listen_fd_ = fd;
  e->port_ = ntohs(bound.sin_port);
  e->registry_ = registry;
  e->before_scrape_ = std::move(before_scrape);
  e->options_ = std::move(options);
  if (e->options_.max_connections < 1) e->options_.max_connections = 1;
  Exposer* self = e.get();
  e->thread_ = std::thread([self] { self->Serve(); });
  return e;
}

struct Exposer::Connection {
  int fd = -1;
  Clock::time_point deadline;
  std::string in, out;
  size_t sent = 0;
  bool answering() const { return !out.empty(); }
};

Exposer::~Exposer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void Exposer::Serve() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  const auto close_at = [&](size_t i) {
    ::close(conns[i].fd);
    conns[i] = std::move(conns.back());
    conns.pop_back();
  };
  while (!stop_) {
    // Wake for the nearest deadline, and at least every 100 ms to notice stop_.
    auto now = Clock::now();
    int wait_ms = 100;
    for (const Connection& c : conns) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left + 1, 0, wait_ms));
    }
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Connection& c : conns) {
      fds.push_back({c.fd, static_cast<short>(c.answering() ? POLLOUT : POLLIN), 0});
    }
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) continue;
    now = Clock::now();
    // Existing connections first (indexes in `fds` are conns' + 1), newest last so that
    // close_at's swap-with-last never moves an unvisited one below i.
    for (size_t i = conns.size(); i-- > 0;) {
      Connection& c = conns[i];
      const short events = fds[i + 1].revents;
      if (events & (POLLERR | POLLNVAL)) {
        close_at(i);
        continue;
      }
      if (!c.answering() && (events & (POLLIN | POLLHUP))) {
        char buf[4096];
        const ssize_t r = ::recv(c.fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          close_at(i);
          continue;
        }
        if (r > 0) c.in.append(buf, static_cast<size_t>(r));
        if (c.in.size() > kMaxRequestBytes && !HeaderComplete(c.in)) {
          ++dropped_too_large_;
          c.out =
              Response(431, "Request Header Fields Too Large", "text/plain", "request too large\n");
        } else if (HeaderComplete(c.in)) {
          c.out = Answer(c.in);
        }
      }
      if (c.answering() && (events & POLLOUT)) {
        const ssize_t w = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          close_at(i);
          continue;
        }
        if (w > 0) c.sent += static_cast<size_t>(w);
        if (c.sent == c.out.size()) {
          close_at(i);
          continue;
        }
      }
      if (now >= c.deadline) {
        ++dropped_timeout_;
        close_at(i);
      }
    }
    if (fds[0].revents & POLLIN) {
      for (int n = 0; n < 64; ++n) {  // drain the backlog, a bounded batch per turn
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        if (static_cast<int>(conns.size()) >= options_.max_connections) {
          // Full: the oldest connection still sending its request (an idle one) makes room;
          // when every slot is writing an answer, the newcomer is refused.
          ++dropped_evicted_;
          const auto oldest = std::min_element(
              conns.begin(), conns.end(), [](const Connection& a, const Connection& b) {
                return !a.answering() && (b.answering() || a.deadline < b.deadline);
              });
          if (oldest->answering()) {
            ::close(fd);
            continue;
          }
          close_at(static_cast<size_t>(oldest - conns.begin()));
        }
        Connection c;
        c.fd = fd;
        c.deadline = now + std::chrono::milliseconds(options_.request_timeout_ms);
        conns.push_back(std::move(c));
      }
    }
  }
  for (Connection& c : conns) ::close(c.fd);
}

std::string Exposer::Answer(const std::string& request) {
  // "GET /metrics HTTP/1.1"
  const size_t sp1 = request.find(' '), sp2 = request.find(' ', sp1 + 1);
  const std::string method = request.substr(0, sp1);
  std::string path = sp1 == std::string::npos ? "" : request.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  const bool head = method == "HEAD";
  const std::string counted_path =
      path == "/metrics" || path == "/healthz" ? path : std::string("other");
  std::string answer;
  int code = 200;
  if (method != "GET" && !head) {
    code = 405;
    answer = Response(405, "Method Not Allowed", "text/plain", "GET only\n");
  } else if (path == "/metrics") {
    const std::string auth = HeaderValue(request, "Authorization");
    if (options_.check_token &&
        !(absl::StartsWith(auth, "Bearer ") && options_.check_token(auth.substr(7)))) {
      code = 401;
      answer = Response(401, "Unauthorized", "text/plain",
                        "/metrics needs \"Authorization: Bearer <metrics token>\"\n");
    } else {
      if (before_scrape_) before_scrape_();
      ++scrapes_;
      ++requests_[{counted_path, code}];  // counted before serialising, so it shows itself
      return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                      registry_->Serialize() + OwnMetrics(), head);
    }
  } else if (path == "/healthz") {
    answer = Response(200, "OK", "text/plain", "ok\n", head);
  } else {
    code = 404;
    answer = Response(404, "Not Found", "text/plain", "try /metrics\n");
  }
  ++requests_[{counted_path, code}];
  return answer;
}

std::string Exposer::OwnMetrics() const {
  std::string text =
      "# HELP r1rl_http_requests_total HTTP requests answered by this process's metrics "
      "endpoint, by path and status code.\n# TYPE r1rl_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    absl::StrAppend(&text, "r1rl_http_requests_total{code=\"", key.second, "\",path=\"", key.first,
                    "\"} ", n, "\n");
  }
  absl::StrAppend(&text,
                  "# HELP r1rl_http_dropped_total HTTP connections closed unanswered: too slow "
                  "(timeout), pushed out by newer ones at the connection cap (evicted), or a "
                  "request over 8 KiB (too_large).\n# TYPE r1rl_http_dropped_total counter\n",
                  "r1rl_http_dropped_total{reason=\"evicted\"} ", dropped_evicted_, "\n",
                  "r1rl_http_dropped_total{reason=\"timeout\"} ", dropped_timeout_, "\n",
                  "r1rl_http_dropped_total{reason=\"too_large\"} ", dropped_too_large_, "\n");
  return text;
}

}  // namespace r1rl::metrics
