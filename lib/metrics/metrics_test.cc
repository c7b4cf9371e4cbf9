// Metrics: the text format (escaping, cumulative buckets), concurrent updates, and the
// /metrics endpoint scraped over a real HTTP socket and checked by promtool.
#include "lib/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/metrics/exposer.h"
#include "lib/metrics/scrape.h"

namespace r1rl::metrics {
namespace {

TEST(Metrics, TextFormat) {
  Registry r;
  auto& c = r.AddCounter("r1rl_test_events_total", "Events, by kind.\nSecond line \\ slash.");
  c.Add({{"kind", "a\"b"}}).Increment(2);
  c.Add({{"kind", "plain"}}).Increment();
  c.Add({{"kind", "plain"}}).Increment(-5);  // ignored: counters only go up
  r.AddGauge("r1rl_test_depth", "Queue depth.").Add({}).Set(7.5);
  auto& h = r.AddHistogram("r1rl_test_latency_seconds", "Latency.", {0.1, 1.0});
  h.Add({}).Observe(0.05);
  h.Add({}).Observe(0.5);
  h.Add({}).Observe(5);
  EXPECT_EQ(r.Serialize(),
            "# HELP r1rl_test_events_total Events, by kind.\\nSecond line \\\\ slash.\n"
            "# TYPE r1rl_test_events_total counter\n"
            "r1rl_test_events_total{kind=\"a\\\"b\"} 2\n"
            "r1rl_test_events_total{kind=\"plain\"} 1\n"
            "# HELP r1rl_test_depth Queue depth.\n"
            "# TYPE r1rl_test_depth gauge\n"
            "r1rl_test_depth 7.5\n"
            "# HELP r1rl_test_latency_seconds Latency.\n"
            "# TYPE r1rl_test_latency_seconds histogram\n"
            "r1rl_test_latency_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
            "r1rl_test_latency_seconds_bucket{le=\"1\"} 2\n"
            "r1rl_test_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "r1rl_test_latency_seconds_sum 5.5499999999999998\n"
            "r1rl_test_latency_seconds_count 3\n");
}

TEST(Metrics, ConcurrentIncrementsAddUp) {
  Registry r;
  Counter& c = r.AddCounter("r1rl_test_total", "x").Add({});
  Histogram& h = r.AddHistogram("r1rl_test_seconds", "x", ExponentialBuckets(0.001, 10, 4)).Add({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Increment(0.5);
        h.Observe(0.01);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(c.Value(), 20000.0);
  EXPECT_EQ(h.CumulativeCounts().back(), 40000u);
  EXPECT_NEAR(h.Sum(), 400.0, 1e-6);
}

TEST(MetricsDeathTest, BadNamesAreProgrammingErrors) {
  Registry r;
  EXPECT_DEATH(r.AddCounter("r1rl_no_suffix", "x"), "must end in _total");
  EXPECT_DEATH(r.AddGauge("bad name", "x"), "bad metric name");
  EXPECT_DEATH(r.AddGauge("r1rl_g", "x").Add({{"le", "1"}}), "bad label name");
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  return resp;
}

TEST(Exposer, ServesMetricsThatPromtoolAccepts) {
  Registry r;
  r.AddCounter("r1rl_test_requests_total", "Requests.").Add({{"code", "200"}}).Increment(3);
  auto& g =
      r.AddGauge("r1rl_test_scrapes", "Scrapes so far (refreshed before each scrape).").Add({});
  r.AddHistogram("r1rl_test_latency_seconds", "Latency.", ExponentialBuckets(0.001, 4, 6))
      .Add({})
      .Observe(0.02);
  auto exposer = Exposer::Start("127.0.0.1:0", &r, [&] { g.Increment(); });
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  ASSERT_GT((*exposer)->port(), 0);
  const std::string resp = HttpGet((*exposer)->port(), "/metrics");
  ASSERT_NE(resp.find("200 OK"), std::string::npos) << resp;
  EXPECT_NE(resp.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string body = resp.substr(resp.find("\r\n\r\n") + 4);
  EXPECT_NE(body.find("r1rl_test_requests_total{code=\"200\"} 3"), std::string::npos) << body;
  EXPECT_NE(body.find("r1rl_test_scrapes 1"), std::string::npos) << body;
  EXPECT_NE(HttpGet((*exposer)->port(), "/healthz").find("ok"), std::string::npos);
  EXPECT_NE(HttpGet((*exposer)->port(), "/nope").find("404"), std::string::npos);
  EXPECT_EQ((*exposer)->scrapes(), 1);

  // promtool (Debian's prometheus package) lints the exposition.
  if (system("command -v promtool > /dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed";
  const std::string path = ::testing::TempDir() + "/metrics.txt";
  std::ofstream(path) << body;
  const std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char out[2048] = {0};
  const size_t n = fread(out, 1, sizeof(out) - 1, p);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << "promtool: " << std::string(out, n);
  EXPECT_EQ(std::string(out, n), "") << "promtool warnings";
}

TEST(Scrape, ReadsWhatTheExposerServes) {
  Registry r;
  r.AddGauge("r1rl_test_version", "v").Add({}).Set(7);
  r.AddCounter("r1rl_test_total", "c").Add({{"reason", "x"}}).Increment(3);
  auto e = Exposer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(e.ok()) << e.status();
  auto text = metrics::HttpGet("127.0.0.1:" + std::to_string((*e)->port()), "/metrics",
                               std::chrono::milliseconds(2000));
  ASSERT_TRUE(text.ok()) << text.status();
  Samples s = ParseText(*text);
  EXPECT_EQ(s["r1rl_test_version"], 7);
  EXPECT_EQ(s["r1rl_test_total{reason=\"x\"}"], 3);
  e->reset();
  EXPECT_FALSE(metrics::HttpGet("127.0.0.1:1", "/metrics", std::chrono::milliseconds(500)).ok());
}

TEST(Exposer, BadAddressIsAnError) {
  Registry r;
  EXPECT_FALSE(Exposer::Start("127.0.0.1:99999", &r).ok());
  auto first = Exposer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(first.ok());
  auto taken = Exposer::Start("127.0.0.1:" + std::to_string((*first)->port()), &r);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("cannot listen there"), std::string::npos)
      << taken.status();
}

// A client that connects and never sends a request cannot hold the endpoint.
TEST(Exposer, ASilentClientDoesNotBlockScrapes) {
  Registry r;
  r.AddGauge("r1rl_test_up", "Up.").Add({}).Set(1);
  auto exposer = Exposer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(exposer.ok());
  const int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*exposer)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_NE(HttpGet((*exposer)->port(), "/metrics").find("r1rl_test_up 1"), std::string::npos);
  close(silent);
}

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// The issue-19 slow-client attack: 50 connections that never finish their request (half
// send a partial header, half nothing) while a probe asks /healthz every 20 ms for 3 s,
// past the 2 s request limit. Every probe must answer within 100 ms.
TEST(Exposer, FiftyIdleClientsDoNotDelayHealthz) {
  Registry r;
  r.AddGauge("r1rl_test_up", "Up.").Add({}).Set(1);
  auto exposer = Exposer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(exposer.ok());
  const int port = (*exposer)->port();
  std::vector<int> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(ConnectTo(port));
    if (i % 2 == 0) send(idle.back(), "GET /metr", 9, MSG_NOSIGNAL);
  }
  double worst_ms = 0;
  int answered = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < end) {
    const auto t0 = std::chrono::steady_clock::now();
    auto ok = metrics::HttpGet("127.0.0.1:" + std::to_string(port), "/healthz",
                               std::chrono::milliseconds(1000));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(ok.ok()) << ok.status();
    worst_ms = std::max(worst_ms, ms);
    ++answered;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(worst_ms, 100.0) << "slowest /healthz with 50 idle clients";
  EXPECT_GT(answered, 50);
  // The idle ones were cut at the 2 s limit and counted.
  auto text = metrics::HttpGet("127.0.0.1:" + std::to_string(port), "/metrics",
                               std::chrono::milliseconds(1000));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(ParseText(*text)["r1rl_http_dropped_total{reason=\"timeout\"}"], 50) << *text;
  for (int fd : idle) close(fd);
}

// At the connection cap the oldest idle connection makes room: a flood cannot lock out a probe.
TEST(Exposer, AFloodAtTheCapEvictsTheOldestIdle) {
  Registry r;
  ExposerOptions o;
  o.max_connections = 8;
  o.request_timeout_ms = 60000;
  auto exposer = Exposer::Start("127.0.0.1:0", &r, {}, o);
  ASSERT_TRUE(exposer.ok());
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(ConnectTo((*exposer)->port()));
  EXPECT_NE(HttpGet((*exposer)->port(), "/healthz").find("ok"), std::string::npos);
  auto text = metrics::HttpGet("127.0.0.1:" + std::to_string((*exposer)->port()), "/metrics",
                               std::chrono::milliseconds(1000));
  ASSERT_TRUE(text.ok());
  EXPECT_GE(ParseText(*text)["r1rl_http_dropped_total{reason=\"evicted\"}"], 12) << *text;
  for (int fd : idle) close(fd);
}

TEST(Exposer, MetricsTokenGuardsMetricsNotHealthz) {
  Registry r;
  r.AddGauge("r1rl_test_up", "Up.").Add({}).Set(1);
  ExposerOptions o;
  o.check_token = [](const std::string& t) { return t == "s3cret-token"; };
  auto exposer = Exposer::Start("127.0.0.1:0", &r, {}, o);
  ASSERT_TRUE(exposer.ok());
  const int port = (*exposer)->port();
  EXPECT_NE(HttpGet(port, "/metrics").find("401 Unauthorized"), std::string::npos);
  EXPECT_NE(HttpGet(port, "/healthz").find("200 OK"), std::string::npos);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_FALSE(
      metrics::HttpGet(address, "/metrics", std::chrono::milliseconds(1000), "wrong").ok());
  EXPECT_FALSE(
      metrics::HttpGet(address, "/metrics", std::chrono::milliseconds(1000), "s3cret-toke").ok());
  auto text =
      metrics::HttpGet(address, "/metrics", std::chrono::milliseconds(1000), "s3cret-token");
  ASSERT_TRUE(text.ok()) << text.status();
  Samples s = ParseText(*text);
  EXPECT_EQ(s["r1rl_test_up"], 1);
  EXPECT_EQ(s["r1rl_http_requests_total{code=\"401\",path=\"/metrics\"}"], 3) << *text;
  EXPECT_EQ(s["r1rl_http_requests_total{code=\"200\",path=\"/metrics\"}"], 1) << *text;
}

}  // namespace
}  // namespace r1rl::metrics
