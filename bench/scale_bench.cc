// The control and data planes under R1-sized load (issue 22; docs/scale.md), open loop.
//
// This process runs the controller as the learner does (real gRPC with TLS and role tokens,
// ZeroMQ with CurveZMQ, the RocksDB buffer; keys from r1rl keys init, made here) and a trainer
// stand-in that takes 32-group steps from it; it starts real r1rl-reward-grader processes
// (next to this binary's build folder) and one process of simulated workers (this binary with
// --simulate-workers). Each simulated worker is a thread with its own TLS connection: it
// registers, heartbeats every --heartbeat-seconds (as the controller tells it), and leases P
// prompts at Poisson-distributed times so that all workers together ask for `multiple` x
// R1-Zero's rate (512 groups per 16 steps of 68.5 s: 0.467 groups/s); it "samples" each lease
// for --sample-seconds, then pushes G samples of --tokens tokens each (ids, behaviour
// log-probs, ~4 bytes of text per token ending in the right boxed answer) through the graders
// into the controller's ingest.
//
//   build/bench/scale_bench [--workers 600] [--multiple 1] [--seconds 120] [--graders 2]
//                           [--group-size 16] [--tokens 12000] [--prompts-per-lease 8]
//                           [--sample-seconds 10] [--worker-processes 10] [--churn 0]
//                           [--kill-grader-at -1] [--lease-seconds 0] [--heartbeat-seconds 2]
//                           [--bulk-nice 10] [--insecure]
//
// --churn P SIGKILLs P% of the workers per minute (whole worker processes) and starts fresh
// ones in their place; --kill-grader-at S SIGKILLs one grader S seconds in. What the dead held
// comes back when its lease expires (--lease-seconds) and is granted to another worker.
// Prints LeasePrompts and Heartbeat latency (p50/p99/max), groups and MB ingested per second,
// the buffer's largest backlog, the controller process's CPU (cores) and peak RSS, and an audit:
// every group pushed was ingested once and trained once (none lost, none twice).
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "lib/controller/controller_server.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "lib/transport/zmq_pipe.h"
#include "r1rl/v1/controller.grpc.pb.h"
#include "r1rl/v1/rollout.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kR1ZeroGroupsPerSecond = 512.0 / (16 * 68.5);
constexpr int64_t kGroupsPerStep = 32;
bool g_pin = false;  // --pin (see Pin)

struct Flags {
  int workers = 600;
  double multiple = 1.0;
  double seconds = 120;
  int graders = 2;
  int group_size = 16;
  int tokens = 12000;
  int prompts_per_lease = 8;
  double sample_seconds = 10;
  int worker_processes = 10;     // the simulated workers are split over this many processes
  double churn = 0;              // % of the workers SIGKILLed and replaced per minute
  double kill_grader_at = -1;    // seconds into the run to SIGKILL grader g0 (< 0: never)
  double lease_seconds = 0;      // the controller's lease duration (0: max(120, 3 x sampling + 30))
  int bulk_nice = 10;            // see LowerPriority
  double heartbeat_seconds = 2;  // the controller's heartbeat interval (learner.heartbeat_seconds)
  // --simulate-workers only:
  std::string controller, rollouts, keys_dir;
  bool insecure = false;  // --insecure: plain text everywhere (security.insecure), to compare
};

bool ParseFlags(int argc, char** argv, Flags* f, bool* simulate) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--simulate-workers") {
      *simulate = true;
      continue;
    }
    if (k == "--pin") {
      g_pin = true;
      continue;
    }
    if (k == "--insecure") {
      f->insecure = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (k == "--workers")
      f->workers = std::atoi(v.c_str());
    else if (k == "--multiple")
      f->multiple = std::atof(v.c_str());
    else if (k == "--seconds")
      f->seconds = std::atof(v.c_str());
    else if (k == "--graders")
      f->graders = std::atoi(v.c_str());
    else if (k == "--group-size")
      f->group_size = std::atoi(v.c_str());
    else if (k == "--tokens")
      f->tokens = std::atoi(v.c_str());
    else if (k == "--prompts-per-lease")
      f->prompts_per_lease = std::atoi(v.c_str());
    else if (k == "--sample-seconds")
      f->sample_seconds = std::atof(v.c_str());
    else if (k == "--worker-processes")
      f->worker_processes = std::atoi(v.c_str());
    else if (k == "--churn")
      f->churn = std::atof(v.c_str());
    else if (k == "--kill-grader-at")
      f->kill_grader_at = std::atof(v.c_str());
    else if (k == "--lease-seconds")
      f->lease_seconds = std::atof(v.c_str());
    else if (k == "--heartbeat-seconds")
      f->heartbeat_seconds = std::atof(v.c_str());
    else if (k == "--bulk-nice")
      f->bulk_nice = std::atoi(v.c_str());
    else if (k == "--controller")
      f->controller = v;
    else if (k == "--rollouts")
      f->rollouts = v;
    else if (k == "--keys")
      f->keys_dir = v;
    else
      return false;
  }
  return f->workers >= 1 && f->multiple > 0 && f->seconds > 0 && f->graders >= 1 &&
         f->group_size >= 1 && f->tokens >= 1 && f->prompts_per_lease >= 1 &&
         f->sample_seconds >= 0 && f->worker_processes >= 1 && f->churn >= 0 &&
         f->lease_seconds >= 0 && f->bulk_nice >= 0 && f->bulk_nice <= 19 &&
         f->heartbeat_seconds >= 0.1;
}

// --bulk-nice N (default 10; 0 = off): the simulation's bulk work runs at nice N: the
// simulated workers' building, encrypting and pushing of rollouts (in a real cluster a GPU
// node's job) and the graders (their own machines). Everything here shares two cores; at
// the same nice, a 2 MB group being built or parsed holds a core for tens of milliseconds and
// a control-plane call waking behind it waits for the scheduler. The controller and the
// workers' gRPC threads stay at nice 0: their latency is what is measured.
void LowerPriority(int nice) {
  if (nice > 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
}

// --pin, on a machine with two cores or more: the controller on core 0, everything else (the
// simulated workers, the graders) on core 1. Off by default: the latencies are measured by the
// workers, and 600 worker threads on one core add their own wait (p99 22 ms against 7 ms
// unpinned at 1x, 600 workers, 1 prompt per lease).
void Pin(int cpu) {
  if (!g_pin || std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof(set), &set);
}

// ---- The simulated workers' process ------------------------------------------------------

// One group as a worker pushes it: G samples of `tokens` tokens, the text ending in the
// lease's answer, boxed.
std::string MakeGroup(const r1rl::v1::PromptLease& l, const std::string& worker, int g,
                      int tokens) {
  r1rl::v1::RolloutGroup grp;
  grp.set_lease_id(l.lease_id());
  grp.set_prompt_id(l.prompt_id());
  grp.set_dataset_position(l.dataset_position());
  *grp.mutable_reward() = l.reward();
  grp.set_policy_version(l.policy_version());
  grp.set_worker_id(worker);
  for (int i = 0; i < 8; ++i) grp.add_prompt_ids(100 + i);
  std::string text;
  text.reserve(static_cast<size_t>(tokens) * 4 + 64);
  for (int t = 0; text.size() + 40 < static_cast<size_t>(tokens) * 4; ++t) text += "add the ";
  for (int s = 0; s < g; ++s) {
    r1rl::v1::Sample* smp = grp.add_samples();
    smp->mutable_completion_ids()->Reserve(tokens);
    smp->mutable_behaviour_logprobs()->Reserve(tokens);
    for (int t = 0; t < tokens; ++t) {
      smp->add_completion_ids((t * 7919 + s) % 50000);
      smp->add_behaviour_logprobs(-0.5f);
    }
    smp->set_text(text + (s % 2 == 0 ? "\\boxed{" + l.reward().answer() + "}" : "\\boxed{0}"));
    smp->set_finish_reason("stop");
  }
  grp.set_sampled_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  return grp.SerializeAsString();
}

int SimulateWorkers(const Flags& f) {
  Pin(1);
  r1rl::security::SecurityOptions security;
  security.keys_dir = f.keys_dir;
  security.insecure = f.insecure;
  // One PUSH socket for the process, fed by a queue (ZeroMQ sockets are single-threaded); the
  // pusher thread builds the groups, and opens the socket so that ZeroMQ's I/O thread (the
  // CurveZMQ encryption) inherits its priority.
  zmq::context_t ctx{1};
  auto curve = r1rl::security::CurveClient(security, "worker", "learner");
  if (!curve.ok()) {
    std::fprintf(stderr, "%s\n", std::string(curve.status().message()).c_str());
    return 1;
  }
  struct Done {
    r1rl::v1::PromptLease lease;
    std::string worker;
  };
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<Done> queue;
  std::atomic<bool> pushing_done{false};
  std::atomic<int64_t> pushed{0}, pushed_bytes{0};
  std::atomic<int> socket_state{0};  // 1 open, -1 failed
  std::thread pusher([&] {
    LowerPriority(f.bulk_nice);
    auto push = r1rl::transport::OpenSocket(ctx, zmq::socket_type::push,
                                            {f.rollouts, false, 100, 0, 5000, *curve}, "rollouts");
    if (!push.ok()) {
      std::fprintf(stderr, "%s\n", std::string(push.status().message()).c_str());
      socket_state = -1;
      return;
    }
    socket_state = 1;
    while (true) {
      Done d;
      {
        std::unique_lock<std::mutex> lock(qmu);
        qcv.wait_for(lock, std::chrono::milliseconds(100),
                     [&] { return !queue.empty() || pushing_done.load(); });
        if (queue.empty()) {
          if (pushing_done) break;
          continue;
        }
        d = std::move(queue.front());
        queue.pop_front();
      }
      const std::string bytes = MakeGroup(d.lease, d.worker, f.group_size, f.tokens);
      if (r1rl::transport::SendBlocking(**push, bytes, [] { return true; })) {
        ++pushed;
        pushed_bytes += static_cast<int64_t>(bytes.size());
      }
    }
  });
  while (socket_state == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (socket_state < 0) {
    pusher.join();
    return 1;
  }

  // Lease calls per worker per second: all workers together ask for multiple x R1's rate.
  const double rate = f.multiple * kR1ZeroGroupsPerSecond;
  const double lease_interval = f.workers * f.prompts_per_lease / rate;
  std::atomic<int64_t> errors{0}, leases{0}, lease_calls{0}, heartbeats{0};
  std::vector<std::vector<double>> lease_lat(f.workers), hb_lat(f.workers);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < f.workers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<uint64_t>(w) * 7919 + 1);
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per worker
      auto channel =
          r1rl::security::OpenChannel(f.controller, security, r1rl::security::Role::kWorker, args);
      std::unique_ptr<r1rl::v1::Controller::Stub> stub;
      r1rl::v1::RegisterResponse reg;
      if (channel.ok()) {
        stub = r1rl::v1::Controller::NewStub(*channel);
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        if (!stub->Register(&c, {}, &reg).ok()) stub.reset();
      }
      if (!stub) ++errors;
      ++ready;
      while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto start = Clock::now();
      const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(f.seconds));
      std::exponential_distribution<double> gap(1.0 / lease_interval);
      // As a rollout worker does: the interval the controller gave at Register.
      const auto hb_every = std::chrono::milliseconds(std::max(100, reg.heartbeat_interval_ms()));
      std::uniform_real_distribution<double> phase(0, hb_every.count() / 1000.0);
      auto next_lease = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(gap(rng)));
      auto next_hb = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(phase(rng)));
      std::vector<std::pair<Clock::time_point, r1rl::v1::PromptLease>> sampling;
      while (stub) {
        const auto now = Clock::now();
        if (now >= end && sampling.empty()) break;
        auto wake = end;
        if (now < end) wake = std::min({wake, next_lease, next_hb});
        for (const auto& [due, l] : sampling) wake = std::min(wake, due);
        if (wake > now) {
          std::this_thread::sleep_until(std::min(wake, now + std::chrono::milliseconds(500)));
          continue;
        }
        if (now < end && now >= next_hb) {
          grpc::ClientContext c;
          c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          r1rl::v1::HeartbeatRequest hr;
          hr.set_worker_id(reg.worker_id());
          r1rl::v1::HeartbeatResponse hresp;
          const auto t0 = Clock::now();
          if (!stub->Heartbeat(&c, hr, &hresp).ok()) ++errors;
          hb_lat[w].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
          ++heartbeats;
          next_hb += hb_every;
        }
        if (now < end && now >= next_lease) {
          grpc::ClientContext c;
          c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          r1rl::v1::LeasePromptsRequest req;
          req.set_worker_id(reg.worker_id());
          req.set_max_prompts(f.prompts_per_lease);
          r1rl::v1::LeasePromptsResponse resp;
          const auto t0 = Clock::now();
          if (!stub->LeasePrompts(&c, req, &resp).ok()) ++errors;
          lease_lat[w].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
          ++lease_calls;
          const auto due = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(f.sample_seconds));
          for (const auto& l : resp.leases()) sampling.emplace_back(due, l);
          leases += resp.leases_size();
          next_lease +=
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
        }
        for (auto it = sampling.begin(); it != sampling.end();) {
          if (it->first > Clock::now()) {
            ++it;
            continue;
          }
          {
            std::lock_guard<std::mutex> lock(qmu);
            queue.push_back({it->second, reg.worker_id()});
          }
          qcv.notify_one();
          it = sampling.erase(it);
        }
      }
    });
  }
  while (ready < f.workers) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  go = true;
  for (auto& t : threads) t.join();
  pushing_done = true;
  qcv.notify_one();
  pusher.join();
  // One line of counts for the parent, then every latency (ms), a line per call kind: the
  // parent takes percentiles over all processes' calls.
  std::printf("%lld %lld %lld %lld %lld %lld\n", static_cast<long long>(lease_calls.load()),
              static_cast<long long>(leases.load()), static_cast<long long>(pushed.load()),
              static_cast<long long>(pushed_bytes.load()),
              static_cast<long long>(heartbeats.load()), static_cast<long long>(errors.load()));
  for (const auto* per_worker : {&lease_lat, &hb_lat}) {
    size_t n = 0;
    for (const auto& v : *per_worker) n += v.size();
    std::printf("%zu", n);
    for (const auto& v : *per_worker)
      for (double x : v) std::printf(" %.4f", x * 1e3);
    std::printf("\n");
  }
  return 0;
}

// ---- The controller's process -------------------------------------------------------------

// The q-quantile of r1rl_controller_rpc_seconds{method} in the exposition `text`, interpolated
// inside its bucket as Prometheus's histogram_quantile does (seconds; -1 without calls).
double ServerQuantile(const std::string& text, const std::string& method, double q) {
  const std::string prefix = "r1rl_controller_rpc_seconds_bucket{";
  std::vector<std::pair<double, double>> buckets;  // (upper bound, cumulative count)
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    const size_t eol = text.find('\n', at);
    const std::string line = text.substr(at, eol - at);
    at = eol;
    if (line.find("method=\"" + method + "\"") == std::string::npos) continue;
    const size_t le = line.find("le=\"");
    const size_t close = line.find('"', le + 4);
    const std::string bound = line.substr(le + 4, close - le - 4);
    buckets.emplace_back(bound == "+Inf" ? INFINITY : std::atof(bound.c_str()),
                         std::atof(line.substr(line.rfind(' ') + 1).c_str()));
  }
  if (buckets.empty() || buckets.back().second <= 0) return -1;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(bound)) return lower;
      return lower + (bound - lower) * (rank - below) / std::max(count - below, 1e-9);
    }
    lower = bound, below = count;
  }
  return lower;
}

int RunController(const Flags& f, const std::string& self) {
  Pin(0);  // before the controller starts: its threads inherit core 0
  const std::string dir =
      std::filesystem::temp_directory_path() / ("r1rl_scale_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  r1rl::security::SecurityOptions security;
  security.keys_dir = dir + "/keys";
  security.insecure = f.insecure;
  if (auto s = r1rl::security::InitKeys(security.keys_dir, {{}, 1, true}); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::string jsonl;
  for (int i = 0; i < 10000; ++i) {
    jsonl += absl::StrCat("{\"prompt\": \"", i, "+1=\", \"reward\": {\"kind\": \"math\", ",
                          "\"answer\": \"", i + 1, "\"}}\n");
  }
  auto dataset = r1rl::learner::PromptDataset::Parse(jsonl, "scale.jsonl");
  if (!dataset.ok()) return 1;
  dataset->set_epochs(0);
  r1rl::learner::ControllerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.rollouts_address = o.graders_address = o.ingest_address = "tcp://127.0.0.1:*";
  o.metrics_address = "127.0.0.1:0";
  o.buffer_path = dir + "/buffer";
  o.group_size = f.group_size;
  // R1-Zero: 32 groups a step, one rollout of 512 groups (16 steps) per policy version.
  o.leases.groups_per_step = kGroupsPerStep;
  o.leases.max_staleness = 15;
  o.leases.lease_duration = std::chrono::milliseconds(static_cast<int64_t>(
      1000 * (f.lease_seconds > 0 ? f.lease_seconds : std::max(120.0, 3 * f.sample_seconds + 30))));
  o.heartbeat_interval =
      std::chrono::milliseconds(static_cast<int64_t>(1000 * f.heartbeat_seconds));
  o.security = security;
  auto controller = r1rl::learner::ControllerServer::Start(o, std::move(*dataset));
  if (!controller.ok()) {
    std::fprintf(stderr, "%s\n", std::string(controller.status().message()).c_str());
    return 1;
  }
  auto& c = **controller;
  Pin(1);  // the graders inherit this thread's core 1; back to core 0 after
  const std::string bin = std::filesystem::path(self).parent_path().parent_path() / "bin";
  std::vector<pid_t> graders;
  for (int g = 0; g < f.graders; ++g) {
    // From a thread at --bulk-nice: the grader inherits that thread's priority.
    pid_t pid = -1;
    std::thread([&] {
      LowerPriority(f.bulk_nice);
      pid = r1rl::bench::SpawnLogged(
          {bin + "/r1rl-reward-grader", "--set", "grader.input=" + c.graders_endpoint(), "--set",
           "grader.output=" + c.ingest_endpoint(), "--set", "grader.grpc_address=127.0.0.1:0",
           "--set", "grader.metrics_address=127.0.0.1:0", "--set",
           "security.keys_dir=" + security.keys_dir, "--set",
           absl::StrCat("security.insecure=", f.insecure ? "true" : "false"), "--set",
           absl::StrCat("grader.id=g", g), "--set", "grader.threads=1"},
          absl::StrCat(dir, "/grader", g, ".log"));
    }).join();
    graders.push_back(pid);
    if (graders.back() < 0) {
      std::fprintf(stderr, "scale_bench: cannot start %s/r1rl-reward-grader\n", bin.c_str());
      return 1;
    }
  }
  Pin(0);
  // The trainer stand-in: 32-group steps as they come, each lease trained once.
  std::atomic<bool> stop{false};
  std::mutex tmu;
  std::set<std::string> trained;
  int64_t trained_twice = 0, trained_bytes = 0;
  std::thread trainer([&] {
    int64_t version = 0, taken = 0;
    while (!stop) {
      auto batch = c.TakeBatch(kGroupsPerStep, Clock::now() + std::chrono::milliseconds(500));
      if (!batch.ok() || batch->groups.empty()) continue;
      std::vector<std::string> ids;
      {
        std::lock_guard<std::mutex> lock(tmu);
        for (const auto& g : batch->groups) {
          if (!trained.insert(g.lease_id()).second) ++trained_twice;
          trained_bytes += static_cast<int64_t>(g.ByteSizeLong());
          ids.push_back(g.lease_id());
        }
      }
      c.Trained(ids);
      taken += static_cast<int64_t>(ids.size());
      if (taken >= (version + 1) * kGroupsPerStep) c.SetPolicyVersion(++version);
    }
  });
  // The buffer's backlog, sampled every 500 ms (Status() lists every worker: not free).
  std::atomic<int64_t> max_unconsumed{0};
  std::thread sampler([&] {
    while (!stop) {
      max_unconsumed = std::max<int64_t>(max_unconsumed, c.Status().groups_unconsumed());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });

  std::printf(
      "scale_bench: %d workers at %.2fx R1-Zero's rate (%.3f groups/s), %.0f s, G = %d x %d "
      "tokens, %d prompts per lease, %.0f s sampling, %d graders; %s; "
      "graders and rollout building at nice %d\n",
      f.workers, f.multiple, f.multiple * kR1ZeroGroupsPerSecond, f.seconds, f.group_size, f.tokens,
      f.prompts_per_lease, f.sample_seconds, f.graders,
      f.insecure ? "plain text (--insecure)" : "TLS + tokens, CurveZMQ", f.bulk_nice);
  std::fflush(stdout);
  const std::string target = "127.0.0.1:" + std::to_string(c.grpc_port());
  // The simulated workers, in --worker-processes processes (so churn can SIGKILL some).
  const int per_process = std::max(1, f.workers / f.worker_processes);
  struct WorkerProcess {
    pid_t pid = -1;
    std::string out;
    bool killed = false, done = false;
    int status = 0;
  };
  std::vector<WorkerProcess> procs;
  const auto t0 = Clock::now();
  auto spawn_workers = [&](double seconds) {
    WorkerProcess w;
    w.out = absl::StrCat(dir, "/workers", procs.size(), ".out");
    std::vector<std::string> args = {self,
                                     "--simulate-workers",
                                     "--controller",
                                     target,
                                     "--rollouts",
                                     c.rollouts_endpoint(),
                                     "--keys",
                                     security.keys_dir,
                                     "--workers",
                                     std::to_string(per_process),
                                     "--multiple",
                                     std::to_string(f.multiple * per_process / f.workers),
                                     "--seconds",
                                     std::to_string(seconds),
                                     "--group-size",
                                     std::to_string(f.group_size),
                                     "--tokens",
                                     std::to_string(f.tokens),
                                     "--prompts-per-lease",
                                     std::to_string(f.prompts_per_lease),
                                     "--sample-seconds",
                                     std::to_string(f.sample_seconds),
                                     "--bulk-nice",
                                     std::to_string(f.bulk_nice)};
    if (g_pin) args.push_back("--pin");
    if (f.insecure) args.push_back("--insecure");
    w.pid = r1rl::bench::SpawnLogged(args, w.out);
    procs.push_back(w);
  };
  const double cpu0 = r1rl::bench::CpuSeconds();
  for (int i = 0; i < f.worker_processes; ++i) spawn_workers(f.seconds);
  // Churn: every `kill_every` seconds one process (per_process workers) is SIGKILLed and a
  // fresh one takes its place for the rest of the run.
  const double kill_every = f.churn > 0 ? 60.0 / (f.churn / 100.0 * f.workers / per_process) : 1e18;
  double next_kill = kill_every;
  bool grader_killed = false;
  int64_t killed_workers = 0;
  std::mt19937 rng(7);
  while (true) {
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    bool running = false;
    for (WorkerProcess& w : procs) {
      if (w.done) continue;
      if (waitpid(w.pid, &w.status, WNOHANG) == w.pid) {
        w.done = true;
      } else {
        running = true;
      }
    }
    if (!running) break;
    if (t >= next_kill && t < f.seconds - f.sample_seconds) {
      std::vector<size_t> live;
      for (size_t i = 0; i < procs.size(); ++i)
        if (!procs[i].done) live.push_back(i);
      if (!live.empty()) {
        WorkerProcess& victim = procs[live[rng() % live.size()]];
        kill(victim.pid, SIGKILL);
        victim.killed = true;
        killed_workers += per_process;
        spawn_workers(f.seconds - t);
      }
      next_kill += kill_every;
    }
    if (!grader_killed && f.kill_grader_at >= 0 && t >= f.kill_grader_at) {
      kill(graders[0], SIGKILL);
      grader_killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double run_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu_run = r1rl::bench::CpuSeconds() - cpu0;
  // The survivors' reports.
  long long calls = 0, leased = 0, pushed = 0, pushed_bytes = 0, hbs = 0, errors = 0;
  std::vector<double> lease_ms, hb_ms;  // every call of every surviving process
  int failed = 0;
  for (const WorkerProcess& w : procs) {
    if (w.killed) continue;
    long long v[6] = {};
    FILE* in = std::fopen(w.out.c_str(), "r");
    bool read = in != nullptr && std::fscanf(in, "%lld %lld %lld %lld %lld %lld", &v[0], &v[1],
                                             &v[2], &v[3], &v[4], &v[5]) == 6;
    for (std::vector<double>* lat : {&lease_ms, &hb_ms}) {
      size_t n = 0;
      read = read && std::fscanf(in, "%zu", &n) == 1;
      for (size_t i = 0; read && i < n; ++i) {
        double x = 0;
        read = std::fscanf(in, "%lf", &x) == 1;
        lat->push_back(x);
      }
    }
    if (in) std::fclose(in);
    if (!read || !WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0) {
      ++failed;
      continue;
    }
    calls += v[0], leased += v[1], pushed += v[2], pushed_bytes += v[3], hbs += v[4],
        errors += v[5];
  }
  using r1rl::bench::Percentile;
  const double l50 = Percentile(lease_ms, 0.5), l99 = Percentile(lease_ms, 0.99),
               lmax = Percentile(lease_ms, 1.0);
  const double h50 = Percentile(hb_ms, 0.5), h99 = Percentile(hb_ms, 0.99),
               hmax = Percentile(hb_ms, 1.0);
  // Drain: until every group the survivors pushed is ingested and trained (with faults: until
  // ingest has been quiet for 5 s), 120 s at most.
  const bool faults = killed_workers > 0 || grader_killed;
  int64_t last_ingested = -1;
  auto quiet_since = Clock::now();
  const auto drain_end = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < drain_end) {
    const r1rl::v1::ControllerStatus now = c.Status();
    size_t trained_now = 0;
    {
      std::lock_guard<std::mutex> lock(tmu);
      trained_now = trained.size();
    }
    if (now.groups_ingested() != last_ingested) {
      last_ingested = now.groups_ingested();
      quiet_since = Clock::now();
    }
    const bool all_in = faults ? Clock::now() - quiet_since > std::chrono::seconds(5)
                               : now.groups_ingested() >= pushed;
    if (all_in && static_cast<int64_t>(trained_now) >= now.groups_ingested()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  trainer.join();
  sampler.join();
  const r1rl::v1::ControllerStatus st = c.Status();
  for (pid_t g : graders) kill(g, SIGTERM);
  for (pid_t g : graders) waitpid(g, nullptr, 0);
  if (failed > 0) {
    std::fprintf(stderr, "scale_bench: %d simulated-worker processes failed (outputs in %s)\n",
                 failed, dir.c_str());
    return 1;
  }
  int64_t rejected = 0;
  for (const auto& [reason, n] : st.rejected()) rejected += n;
  std::set<std::string> trained_copy;
  {
    std::lock_guard<std::mutex> lock(tmu);
    trained_copy = trained;
  }
  const double rss_mb = r1rl::bench::PeakRssBytes() / (1 << 20);
  std::printf("LeasePrompts: %lld calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms; %lld leases\n",
              calls, l50, l99, lmax, leased);
  std::printf("Heartbeat: %lld calls (%.0f/s), p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", hbs,
              static_cast<double>(hbs) / f.seconds, h50, h99, hmax);
  // The same calls as the controller's handlers timed them (its /metrics histogram): what
  // the controller's own work costs, without TLS, the network and the callers' scheduling.
  const std::string exposition = c.registry().Serialize();
  std::printf(
      "in the controller's handlers (r1rl_controller_rpc_seconds): LeasePrompts p50 %.3f ms, "
      "p99 %.3f ms; Heartbeat p50 %.3f ms, p99 %.3f ms\n",
      ServerQuantile(exposition, "LeasePrompts", 0.5) * 1e3,
      ServerQuantile(exposition, "LeasePrompts", 0.99) * 1e3,
      ServerQuantile(exposition, "Heartbeat", 0.5) * 1e3,
      ServerQuantile(exposition, "Heartbeat", 0.99) * 1e3);
  std::printf(
      "ingest: %lld ingested, %.3f groups/s, %.2f MB/s (%.2f MB per group); buffer "
      "backlog max %lld groups\n",
      static_cast<long long>(st.groups_ingested()),
      static_cast<double>(st.groups_ingested()) / run_seconds,
      static_cast<double>(trained_bytes) / run_seconds / 1e6,
      st.groups_ingested() > 0
          ? static_cast<double>(trained_bytes) / static_cast<double>(st.groups_ingested()) / 1e6
          : 0,
      static_cast<long long>(max_unconsumed.load()));
  std::printf(
      "controller process: %.3f cores over the run (%.1f CPU s / %.1f s), peak RSS %.0f MB\n",
      cpu_run / run_seconds, cpu_run, run_seconds, rss_mb);
  if (killed_workers > 0 || grader_killed) {
    std::printf("faults: %lld workers SIGKILLed and replaced (%d processes of %d)%s\n",
                static_cast<long long>(killed_workers),
                static_cast<int>(killed_workers / per_process), per_process,
                grader_killed ? "; grader g0 SIGKILLed" : "");
  }
  // None lost: every lease the controller completed is a group ingested, every group the
  // surviving workers pushed was ingested (or dropped as a duplicate: a late group for a lease
  // that expired and was completed by another worker); what the killed held is still out
  // (expired, to be granted again) or was granted again and completed. None twice: each lease
  // trained once.
  const bool ok =
      errors == 0 && st.leases_completed() == st.groups_ingested() &&
      static_cast<int64_t>(trained_copy.size()) == st.groups_ingested() && trained_twice == 0 &&
      rejected == 0 &&
      (faults ? st.groups_ingested() + st.groups_duplicate() >= pushed
              : pushed == leased && st.groups_ingested() == pushed && st.groups_duplicate() == 0);
  std::printf(
      "audit: granted %lld (expired %lld, still out %lld), completed %lld = ingested %lld "
      "= trained once %zu; survivors leased %lld, pushed %lld; trained twice %lld; "
      "duplicates dropped %lld; rejected %lld; rpc errors %lld: %s\n",
      static_cast<long long>(st.leases_granted()), static_cast<long long>(st.leases_expired()),
      static_cast<long long>(st.leases_outstanding()),
      static_cast<long long>(st.leases_completed()), static_cast<long long>(st.groups_ingested()),
      trained_copy.size(), leased, pushed, static_cast<long long>(trained_twice),
      static_cast<long long>(st.groups_duplicate()), static_cast<long long>(rejected), errors,
      ok ? "OK" : "FAILED");
  (*controller).reset();
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  // As the services run (lib/runtime/service_main.cc).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  signal(SIGPIPE, SIG_IGN);
  Flags f;
  bool simulate = false;
  if (!ParseFlags(argc, argv, &f, &simulate)) {
    std::fprintf(stderr,
                 "usage: scale_bench [--workers N] [--multiple X] [--seconds S] [--graders K] "
                 "[--group-size G] [--tokens T] [--prompts-per-lease P] [--sample-seconds S] "
                 "[--worker-processes W] [--churn PCT_PER_MIN] [--kill-grader-at S] "
                 "[--lease-seconds S] [--heartbeat-seconds S] [--bulk-nice N] [--pin] "
                 "[--insecure]\n");
    return 2;
  }
  r1rl::bench::RaiseFileLimit();  // 600 connections and threads
  if (simulate) return SimulateWorkers(f);
  return RunController(f, std::filesystem::canonical("/proc/self/exe").string());
}
