// LeasePrompts latency under load: a real controller (gRPC on loopback, RocksDB buffer) and
// N simulated workers, each a thread with its own channel that registers, then leases in a
// loop (heartbeat every 20 calls), as fast as the controller answers.
//
//   build/bench/lease_bench [workers=100] [seconds=10] [prompts_per_lease=8]
//
// Prints p50/p90/p99/max latency and calls/s over the run. The window is opened wide (no
// group ever completes here) so every call grants leases: the controller's full path.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "lib/controller/controller_server.h"
#include "r1rl/v1/controller.grpc.pb.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 100;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
  const int per_lease = argc > 3 ? std::atoi(argv[3]) : 8;
  const std::string dir =
      std::filesystem::temp_directory_path() / ("r1rl_lease_bench_" + std::to_string(getpid()));
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
  o.buffer_path = dir;
  o.leases.groups_per_step = int64_t{1} << 40;
  o.leases.lease_duration = std::chrono::hours(1);
  auto controller = r1rl::learner::ControllerServer::Start(o, std::move(*dataset));
  if (!controller.ok()) {
    std::fprintf(stderr, "%s\n", std::string(controller.status().message()).c_str());
    return 1;
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
      auto stub = r1rl::v1::Controller::NewStub(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
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
  std::printf(
      "LeasePrompts, %d simulated workers, %d prompts per call, %.1f s: %zu calls (%.0f calls/s, "
      "%.0f prompts/s), %lld errors\n",
      workers, per_lease, elapsed, all.size(), all.size() / elapsed,
      all.size() * per_lease / elapsed, static_cast<long long>(errors.load()));
  std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", pct(0.5), pct(0.9), pct(0.99),
              all.empty() ? 0.0 : all.back() * 1e3);
  controller->reset();
  std::filesystem::remove_all(dir);
  return errors == 0 ? 0 : 1;
}
