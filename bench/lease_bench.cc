// LeasePrompts latency under load, and what TLS + role tokens cost it: a real controller
// (gRPC on loopback, RocksDB buffer) and N simulated workers, each a thread with its own
// channel that registers, then leases in a loop (heartbeat every 20 calls), as fast as the
// controller answers. Each round runs the controller twice, plain text (security.insecure)
// then TLS with the worker token (keys from r1rl keys init, made here), alternating so
// both see the same machine state.
//
//   build/bench/lease_bench [workers=100] [seconds=10] [prompts_per_lease=8] [rounds=3]
//
// Prints p50/p90/p99/max latency and calls/s per run, then the medians over rounds and the
// TLS/plain ratios. The window is opened wide (no group ever completes here) so every call
// grants leases: the controller's full path.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "lib/controller/controller_server.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/controller.grpc.pb.h"

using Clock = std::chrono::steady_clock;

namespace {

struct RunResult {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, calls_per_s = 0;
  int64_t errors = 0;
};

RunResult Run(const r1rl::security::SecurityOptions& security, const std::string& dir, int workers,
              double seconds, int per_lease) {
  std::string jsonl;
  for (int i = 0; i < 10000; ++i) {
    jsonl += "{\"prompt\": \"" + std::to_string(i) +
             "+1=\", \"reward\": {\"kind\": \"math\", \"answer\": \"" + std::to_string(i + 1) +
             "\"}}\n";
  }
  auto dataset = r1rl::learner::PromptDataset::Parse(jsonl, "bench.jsonl");
  dataset->set_epochs(0);
  r1rl::learner::ControllerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.rollouts_address = o.graders_address = o.ingest_address = "tcp://127.0.0.1:*";
  o.metrics_address = "127.0.0.1:0";
  o.buffer_path = dir + "/buffer";
  o.leases.groups_per_step = int64_t{1} << 40;
  o.leases.lease_duration = std::chrono::hours(1);
  o.security = security;
  std::filesystem::remove_all(o.buffer_path);
  auto controller = r1rl::learner::ControllerServer::Start(o, std::move(*dataset));
  if (!controller.ok()) {
    std::fprintf(stderr, "%s\n", std::string(controller.status().message()).c_str());
    std::exit(1);
  }
  const std::string target = "127.0.0.1:" + std::to_string((*controller)->grpc_port());
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<double>> lat(workers);
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per simulated worker
      auto channel =
          r1rl::security::OpenChannel(target, security, r1rl::security::Role::kWorker, args);
      if (!channel.ok()) {
        ++errors;
        return;
      }
      auto stub = r1rl::v1::Controller::NewStub(*channel);
      r1rl::v1::RegisterRequest rr;
      r1rl::v1::RegisterResponse reg;
      {
        grpc::ClientContext c;
        if (!stub->Register(&c, rr, &reg).ok()) {
          ++errors;
          return;
        }
      }
      while (!go) std::this_thread::yield();
      for (int n = 0; !stop; ++n) {
        if (n % 20 == 19) {
          grpc::ClientContext c;
          r1rl::v1::HeartbeatRequest hr;
          hr.set_worker_id(reg.worker_id());
          r1rl::v1::HeartbeatResponse hresp;
          (void)stub->Heartbeat(&c, hr, &hresp);
        }
        grpc::ClientContext c;
        r1rl::v1::LeasePromptsRequest req;
        req.set_worker_id(reg.worker_id());
        req.set_max_prompts(per_lease);
        r1rl::v1::LeasePromptsResponse resp;
        const auto t0 = Clock::now();
        const grpc::Status s = stub->LeasePrompts(&c, req, &resp);
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!s.ok() || resp.leases_size() != per_lease) ++errors;
        lat[w].push_back(dt);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0
                       : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))] * 1e3;
  };
  controller->reset();
  RunResult r;
  r.p50_ms = pct(0.5);
  r.p90_ms = pct(0.9);
  r.p99_ms = pct(0.99);
  r.max_ms = all.empty() ? 0.0 : all.back() * 1e3;
  r.calls_per_s = static_cast<double>(all.size()) / elapsed;
  r.errors = errors;
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 100;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
  const int per_lease = argc > 3 ? std::atoi(argv[3]) : 8;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  if (argc > 5 || workers < 1 || seconds <= 0 || per_lease < 1 || rounds < 1) {
    std::fprintf(stderr,
                 "usage: lease_bench [workers>=1] [seconds>0] [prompts_per_lease>=1] "
                 "[rounds>=1]\n");
    return 2;
  }
  const std::string dir =
      std::filesystem::temp_directory_path() / ("r1rl_lease_bench_" + std::to_string(getpid()));
  r1rl::security::SecurityOptions plain, tls;
  plain.insecure = true;
  tls.keys_dir = dir + "/keys";
  if (auto s = r1rl::security::InitKeys(tls.keys_dir, {{}, 1, true}); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf(
      "LeasePrompts, %d simulated workers, %d prompts per call, %.1f s per run, %d rounds\n",
      workers, per_lease, seconds, rounds);
  std::vector<double> p50[2], p99[2], rate[2];
  int64_t errors = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int mode = 0; mode < 2; ++mode) {
      const RunResult r = Run(mode == 0 ? plain : tls, dir, workers, seconds, per_lease);
      std::printf(
          "  round %d %-9s: %.0f calls/s (%.0f prompts/s), latency ms p50 %.3f  p90 %.3f  "
          "p99 %.3f  max %.3f, %lld errors\n",
          round + 1, mode == 0 ? "plain" : "TLS+token", r.calls_per_s, r.calls_per_s * per_lease,
          r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, static_cast<long long>(r.errors));
      p50[mode].push_back(r.p50_ms);
      p99[mode].push_back(r.p99_ms);
      rate[mode].push_back(r.calls_per_s);
      errors += r.errors;
    }
  }
  std::printf("median plain:     p50 %.3f ms, p99 %.3f ms, %.0f calls/s\n", Median(p50[0]),
              Median(p99[0]), Median(rate[0]));
  std::printf("median TLS+token: p50 %.3f ms, p99 %.3f ms, %.0f calls/s\n", Median(p50[1]),
              Median(p99[1]), Median(rate[1]));
  std::printf("TLS+token / plain: p50 latency %.2fx, p99 latency %.2fx, calls/s %.2fx\n",
              Median(p50[1]) / Median(p50[0]), Median(p99[1]) / Median(p99[0]),
              Median(rate[1]) / Median(rate[0]));
  std::filesystem::remove_all(dir);
  return errors == 0 ? 0 : 1;
}
