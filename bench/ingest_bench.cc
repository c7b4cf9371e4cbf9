// Ingest throughput and what CurveZMQ costs it: a real controller (RocksDB buffer, the
// ingest socket on loopback) and P grader-like pushers. Each run registers a worker, leases
// N prompts over gRPC, then the pushers send one graded group per lease (G samples of L
// tokens each: ids, behaviour log-probs and text, about what a worker sends) as fast as the
// socket takes them; the run's time is from the first send until the controller has stored
// them all. Each round runs plain text (security.insecure) then CurveZMQ + TLS (keys from
// r1rl keys init, made here), alternating so both see the same machine state.
//
//   build/bench/ingest_bench [groups=4000] [pushers=4] [tokens=256] [G=8] [rounds=3]
//
// Prints groups/s and MB/s per run, the medians and the Curve/plain ratio.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <zmq.hpp>

#include "absl/synchronization/mutex.h"
#include "bench/bench_controller.h"
#include "bench/bench_util.h"
#include "lib/controller/controller_server.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/controller.grpc.pb.h"

using Clock = std::chrono::steady_clock;
using r1rl::bench::Median;

namespace {

struct RunResult {
  double groups_per_s = 0, mb_per_s = 0;
  bool ok = false;
};

RunResult Run(const r1rl::security::SecurityOptions& security, const std::string& dir, int groups,
              int pushers, int tokens, int group_size) {
  auto controller = r1rl::bench::StartBenchController(security, dir, groups, group_size,
                                                      /*endless=*/false);
  if (!controller.ok()) {
    std::fprintf(stderr, "%s\n", std::string(controller.status().message()).c_str());
    std::exit(1);
  }
  // The leases, as one worker would take them.
  auto channel =
      r1rl::security::OpenChannel("127.0.0.1:" + std::to_string((*controller)->grpc_port()),
                                  security, r1rl::security::Role::kWorker);
  auto stub = r1rl::v1::Controller::NewStub(*channel);
  r1rl::v1::RegisterResponse reg;
  {
    grpc::ClientContext c;
    if (!stub->Register(&c, {}, &reg).ok()) std::exit(1);
  }
  std::vector<r1rl::v1::PromptLease> leases;
  while (static_cast<int>(leases.size()) < groups) {
    grpc::ClientContext c;
    r1rl::v1::LeasePromptsRequest req;
    req.set_worker_id(reg.worker_id());
    req.set_max_prompts(std::min(1024, groups - static_cast<int>(leases.size())));
    r1rl::v1::LeasePromptsResponse resp;
    if (!stub->LeasePrompts(&c, req, &resp).ok() || resp.leases_size() == 0) std::exit(1);
    leases.insert(leases.end(), resp.leases().begin(), resp.leases().end());
  }
  // The groups, serialised before the clock starts.
  std::vector<std::string> messages;
  size_t bytes = 0;
  for (const auto& l : leases) {
    r1rl::v1::RolloutGroup g;
    g.set_lease_id(l.lease_id());
    g.set_prompt_id(l.prompt_id());
    g.set_worker_id(reg.worker_id());
    g.set_policy_version(l.policy_version());
    g.set_graded(true);
    g.set_grader_id("bench");
    for (int s = 0; s < group_size; ++s) {
      auto* sample = g.add_samples();
      for (int t = 0; t < tokens; ++t) {
        sample->add_completion_ids(100 + (t * 7 + s) % 400);
        sample->add_behaviour_logprobs(-0.25f - 0.001f * static_cast<float>(t));
      }
      sample->set_text(std::string(static_cast<size_t>(tokens) * 4, 'x'));
      sample->set_finish_reason("stop");
      sample->set_reward(s % 2);
      (*sample->mutable_reward_components())["accuracy"] = s % 2;
    }
    messages.push_back(g.SerializeAsString());
    bytes += messages.back().size();
  }
  const std::string endpoint = (*controller)->ingest_endpoint();
  auto curve = r1rl::security::CurveClient(security, "grader", "learner");
  if (!curve.ok()) std::exit(1);
  zmq::context_t ctx(1);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < pushers; ++p) {
    threads.emplace_back([&, p] {
      zmq::socket_t push(ctx, zmq::socket_type::push);
      push.set(zmq::sockopt::linger, 60000);
      r1rl::transport::SetCurve(push, *curve, /*bind=*/false);
      push.connect(endpoint);
      while (!go) std::this_thread::yield();
      for (size_t i = static_cast<size_t>(p); i < messages.size();
           i += static_cast<size_t>(pushers)) {
        push.send(zmq::buffer(messages[i]), zmq::send_flags::none);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // connected (and handshaken)
  const auto start = Clock::now();
  go = true;
  RunResult r;
  const auto deadline = start + std::chrono::seconds(600);
  while (Clock::now() < deadline) {
    if ((*controller)->Status().groups_ingested() >= groups) {
      r.ok = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  controller->reset();
  r.groups_per_s = groups / secs;
  r.mb_per_s = static_cast<double>(bytes) / secs / 1e6;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  // As the services run (lib/runtime/service_main.cc).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const int groups = argc > 1 ? std::atoi(argv[1]) : 4000;
  const int pushers = argc > 2 ? std::atoi(argv[2]) : 4;
  const int tokens = argc > 3 ? std::atoi(argv[3]) : 256;
  const int group_size = argc > 4 ? std::atoi(argv[4]) : 8;
  const int rounds = argc > 5 ? std::atoi(argv[5]) : 3;
  if (argc > 6 || groups < 1 || pushers < 1 || tokens < 1 || group_size < 1 || rounds < 1) {
    std::fprintf(stderr,
                 "usage: ingest_bench [groups>=1] [pushers>=1] [tokens>=1] [G>=1] "
                 "[rounds>=1]\n");
    return 2;
  }
  const std::string dir =
      std::filesystem::temp_directory_path() / ("r1rl_ingest_bench_" + std::to_string(getpid()));
  r1rl::security::SecurityOptions plain, secure;
  plain.insecure = true;
  secure.keys_dir = dir + "/keys";
  if (auto s = r1rl::security::InitKeys(secure.keys_dir, {{}, 1, true}); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("ingest: %d graded groups of G=%d x %d tokens, %d pushers, %d rounds\n", groups,
              group_size, tokens, pushers, rounds);
  std::vector<double> rate[2], mb[2];
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    for (int mode = 0; mode < 2; ++mode) {
      const RunResult r = Run(mode == 0 ? plain : secure, dir, groups, pushers, tokens, group_size);
      std::printf("  round %d %-8s: %.0f groups/s, %.1f MB/s%s\n", round + 1,
                  mode == 0 ? "plain" : "CurveZMQ", r.groups_per_s, r.mb_per_s,
                  r.ok ? "" : " (NOT ALL INGESTED)");
      rate[mode].push_back(r.groups_per_s);
      mb[mode].push_back(r.mb_per_s);
      ok = ok && r.ok;
    }
  }
  std::printf("median plain:    %.0f groups/s, %.1f MB/s\n", Median(rate[0]), Median(mb[0]));
  std::printf("median CurveZMQ: %.0f groups/s, %.1f MB/s\n", Median(rate[1]), Median(mb[1]));
  std::printf("CurveZMQ / plain: throughput %.2fx\n", Median(rate[1]) / Median(rate[0]));
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
