// LeasePrompts latency under load, and what TLS + role tokens cost it: a real controller
// (gRPC on loopback, RocksDB buffer) in this process and N simulated workers in another (this
// binary with --client; on a machine with two cores or more the controller is pinned to core
// 0 and the workers to core 1), each worker a thread with its own channel that registers,
// then leases in a loop (heartbeat every 20 calls), as fast as the controller answers. Each
// round runs the controller three times, alternating so all see the same machine state:
// plain text (security.insecure), TLS with the worker token as shipped (keys from r1rl keys
// init, made here), and TLS alone (the same certificate, no token processor on the server and
// no call credentials on the client: what gRPC's TLS costs by itself, the floor under the
// shipped figure). The controller's CPU per call is its process's CPU time over the calls
// answered.
//
//   build/bench/lease_bench [workers=100] [seconds=10] [prompts_per_lease=8] [rounds=3]
//
// Prints p50/p90/p99/max latency, calls/s and the controller's CPU per call per run, then the
// medians over rounds and the ratios to plain text. The window is opened wide (no group ever
// completes here) so every call grants leases: the controller's full path.
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_controller.h"
#include "bench/bench_util.h"
#include "lib/controller/controller_server.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "lib/security/security_options.h"
#include "r1rl/v1/controller.grpc.pb.h"

using Clock = std::chrono::steady_clock;
using r1rl::bench::CpuSeconds;
using r1rl::bench::Median;

namespace {

enum Mode { kPlain = 0, kTlsToken = 1, kTlsAlone = 2 };
constexpr const char* kModeNames[] = {"plain", "TLS+token", "TLS alone"};

struct RunResult {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, calls_per_s = 0;
  double server_us_per_call = 0;  // the controller process's CPU time per call
  int64_t calls = 0, errors = 0;
};

// A worker's channel in `mode`: OpenChannel as the services make it, or TLS with no token.
absl::StatusOr<std::shared_ptr<grpc::Channel>> WorkerChannel(const std::string& target,
                                                             const std::string& keys_dir, Mode mode,
                                                             const grpc::ChannelArguments& args) {
  r1rl::security::SecurityOptions security;
  security.keys_dir = keys_dir;
  security.insecure = mode == kPlain;
  if (mode != kTlsAlone) {
    return r1rl::security::OpenChannel(target, security, r1rl::security::Role::kWorker, args);
  }
  auto ca = r1rl::security::ReadKeyFile(security.Path("ca.crt"));
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ca;
  grpc::ChannelArguments tls_args = args;
  tls_args.SetSslTargetNameOverride(r1rl::security::kServerName);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), tls_args);
}

// The controller's credentials in kTlsAlone: the server certificate, no token processor.
std::shared_ptr<grpc::ServerCredentials> TlsAloneCredentials(const std::string& keys_dir) {
  r1rl::security::SecurityOptions security;
  security.keys_dir = keys_dir;
  auto cert = r1rl::security::ReadKeyFile(security.Path("server.crt"));
  auto key = r1rl::security::ReadKeyFile(security.Path("server.key"));
  if (!cert.ok() || !key.ok()) {
    std::fprintf(stderr, "lease_bench: no server certificate in %s\n", keys_dir.c_str());
    std::exit(1);
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

// The simulated workers (this binary again, `--client`): `workers` threads, each with its own
// connection, register then lease in a closed loop for `seconds`; prints one line:
// "calls errors seconds p50_ms p90_ms p99_ms max_ms".
int Clients(const std::string& target, const std::string& keys_dir, Mode mode, int workers,
            double seconds, int per_lease) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<double>> lat(workers);
  std::atomic<int64_t> errors{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per simulated worker
      auto channel = WorkerChannel(target, keys_dir, mode, args);
      r1rl::v1::RegisterResponse reg;
      std::unique_ptr<r1rl::v1::Controller::Stub> stub;
      if (channel.ok()) {
        stub = r1rl::v1::Controller::NewStub(*channel);
        grpc::ClientContext c;
        if (!stub->Register(&c, {}, &reg).ok()) stub.reset();
      }
      if (!stub) ++errors;
      ++ready;
      while (!go) std::this_thread::yield();
      for (int n = 0; stub && !stop; ++n) {
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
  while (ready < workers) std::this_thread::sleep_for(std::chrono::milliseconds(10));
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
  std::printf("%zu %lld %.6f %.6f %.6f %.6f %.6f\n", all.size(),
              static_cast<long long>(errors.load()), elapsed, pct(0.5), pct(0.9), pct(0.99),
              all.empty() ? 0.0 : all.back() * 1e3);
  return 0;
}

RunResult Run(const std::string& self, Mode mode, const r1rl::security::SecurityOptions& tls,
              const std::string& dir, int workers, double seconds, int per_lease) {
  r1rl::security::SecurityOptions security = tls;
  security.insecure = mode == kPlain;
  // 10,000 prompts cycled: every call grants leases (r1rl::learner's default G of 8).
  auto controller = r1rl::bench::StartBenchController(
      security, dir, 10000, 8, /*endless=*/true,
      mode == kTlsAlone ? TlsAloneCredentials(tls.keys_dir) : nullptr);
  if (!controller.ok()) {
    std::fprintf(stderr, "%s\n", std::string(controller.status().message()).c_str());
    std::exit(1);
  }
  const std::string target = "127.0.0.1:" + std::to_string((*controller)->grpc_port());
  // The workers on the other core (when there are two), so the controller's CPU is its own.
  const std::string cmd =
      absl::StrCat(self, " --client ", target, " '", tls.keys_dir, "' ", static_cast<int>(mode),
                   " ", workers, " ", seconds, " ", per_lease);
  const double cpu0 = CpuSeconds();
  FILE* p = popen(cmd.c_str(), "r");
  long long calls = 0, errors = 0;
  RunResult r;
  double elapsed = 0;
  const int got = std::fscanf(p, "%lld %lld %lf %lf %lf %lf %lf", &calls, &errors, &elapsed,
                              &r.p50_ms, &r.p90_ms, &r.p99_ms, &r.max_ms);
  const int status = pclose(p);
  const double cpu = CpuSeconds() - cpu0;
  controller->reset();
  if (got != 7 || status != 0) {
    std::fprintf(stderr, "lease_bench: the client process failed (%s)\n", cmd.c_str());
    std::exit(1);
  }
  r.calls = calls;
  r.errors = errors;
  r.calls_per_s = static_cast<double>(calls) / elapsed;
  // The controller's CPU includes the clients' registration and start-up (a few ms): small
  // next to a run's thousands of calls.
  r.server_us_per_call = calls > 0 ? cpu / static_cast<double>(calls) * 1e6 : 0;
  return r;
}

void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof(set), &set);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  // As the services run (lib/runtime/service_main.cc).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const bool two_cores = std::thread::hardware_concurrency() >= 2;
  if (argc == 8 && std::string(argv[1]) == "--client") {
    if (two_cores) Pin(1);
    return Clients(argv[2], argv[3], static_cast<Mode>(std::atoi(argv[4])), std::atoi(argv[5]),
                   std::atof(argv[6]), std::atoi(argv[7]));
  }
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
  if (two_cores) Pin(0);  // the controller; the workers' process takes core 1
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  const std::string dir =
      std::filesystem::temp_directory_path() / ("r1rl_lease_bench_" + std::to_string(getpid()));
  r1rl::security::SecurityOptions tls;
  tls.keys_dir = dir + "/keys";
  if (auto s = r1rl::security::InitKeys(tls.keys_dir, {{}, 1, true}); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf(
      "LeasePrompts, %d simulated workers (a process of their own%s), %d prompts per call, "
      "%.1f s per run, %d rounds\n",
      workers, two_cores ? " on core 1; the controller on core 0" : "", per_lease, seconds, rounds);
  std::vector<double> p50[3], p99[3], rate[3], cpu[3];
  int64_t errors = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int mode = 0; mode < 3; ++mode) {
      const RunResult r = Run(self, static_cast<Mode>(mode), tls, dir, workers, seconds, per_lease);
      std::printf(
          "  round %d %-9s: %.0f calls/s, latency ms p50 %.3f  p90 %.3f  p99 %.3f  max %.3f, "
          "controller CPU %.1f us/call, %lld errors\n",
          round + 1, kModeNames[mode], r.calls_per_s, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms,
          r.server_us_per_call, static_cast<long long>(r.errors));
      p50[mode].push_back(r.p50_ms);
      p99[mode].push_back(r.p99_ms);
      rate[mode].push_back(r.calls_per_s);
      cpu[mode].push_back(r.server_us_per_call);
      errors += r.errors;
    }
  }
  for (int mode = 0; mode < 3; ++mode) {
    std::printf("median %-9s: p50 %.3f ms, p99 %.3f ms, %.0f calls/s, controller %.1f us/call\n",
                kModeNames[mode], Median(p50[mode]), Median(p99[mode]), Median(rate[mode]),
                Median(cpu[mode]));
  }
  for (int mode = 1; mode < 3; ++mode) {
    std::printf(
        "%s / plain: p50 latency %.2fx, p99 latency %.2fx, calls/s %.2fx, controller CPU per "
        "call %.2fx\n",
        kModeNames[mode], Median(p50[mode]) / Median(p50[0]), Median(p99[mode]) / Median(p99[0]),
        Median(rate[mode]) / Median(rate[0]), Median(cpu[mode]) / Median(cpu[0]));
  }
  std::filesystem::remove_all(dir);
  return errors == 0 ? 0 : 1;
}
