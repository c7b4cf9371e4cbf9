// The parameter-broadcast service's control plane at R1's membership (issue 22; docs/scale.md):
// a real r1rl-param-broadcast process (TLS and role tokens, keys from r1rl keys init made
// here) with N receivers in this process (a thread and a TLS connection each) that Join and
// long-poll Sync as lib/broadcast/receiver.cc does, while a publisher publishes V versions of
// S MB, one every P seconds. The receivers do not fetch chunks (the data plane is measured by
// bench/broadcast_w1.sh): on a new manifest each "fetches" for --fetch-seconds, reporting its
// progress every 500 ms as a receiver does, then reports the version held.
//
//   build/bench/broadcast_control_bench [--receivers 600] [--versions 4] [--model-mb 64]
//        [--chunk-kb 1024] [--publish-every 20] [--fetch-seconds 5] [--fanout 1]
//
// Prints the Sync rate, how long after a version is published each receiver has its manifest
// (p50/p99/max over receivers and versions: the service answering all the parked long-polls at
// once), the manifest's size per chunk, the service's own seconds-to-all per version, the
// service process's CPU (cores) and peak RSS, and exits 0 when every receiver held every
// version with no RPC error.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/synthetic_weights.h"
#include "lib/broadcast/publisher.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/broadcast.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using r1rl::bench::Percentile;

struct Flags {
  int receivers = 600;
  int versions = 4;
  double model_mb = 64;
  int64_t chunk_kb = 1024;
  double publish_every = 20;
  double fetch_seconds = 5;
  int fanout = 1;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--receivers")
      f->receivers = std::atoi(v.c_str());
    else if (k == "--versions")
      f->versions = std::atoi(v.c_str());
    else if (k == "--model-mb")
      f->model_mb = std::atof(v.c_str());
    else if (k == "--chunk-kb")
      f->chunk_kb = std::atoll(v.c_str());
    else if (k == "--publish-every")
      f->publish_every = std::atof(v.c_str());
    else if (k == "--fetch-seconds")
      f->fetch_seconds = std::atof(v.c_str());
    else if (k == "--fanout")
      f->fanout = std::atoi(v.c_str());
    else
      return false;
  }
  return argc % 2 == 1 && f->receivers >= 1 && f->versions >= 1 && f->model_mb > 0 &&
         f->chunk_kb >= 4 && f->publish_every > 0 && f->fetch_seconds >= 0 && f->fanout >= 1;
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<int> joined{0};
  std::atomic<int64_t> syncs{0}, errors{0}, rejoins{0}, manifest_bytes{0}, manifest_chunks{0};
  std::mutex mu;
  std::vector<double> notify_ms;  // published -> this receiver has the manifest
  std::vector<int64_t> held;      // per receiver: the newest version held
};

void RunReceiver(int index, const std::string& target, const r1rl::security::SecurityOptions& sec,
                 const Flags& f, Shared* sh) {
  auto channel = r1rl::security::OpenChannel(target, sec, r1rl::security::Role::kWorker, [] {
    grpc::ChannelArguments a;
    a.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per receiver
    return a;
  }());
  if (!channel.ok()) {
    ++sh->errors;
    return;
  }
  auto stub = r1rl::v1::ParamBroadcast::NewStub(*channel);
  std::string id, parent_id;
  int sync_wait_ms = 2000;
  int64_t held = -1, fetching = -1;
  int chunks = 0;
  Clock::time_point fetched_at;
  auto join = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    r1rl::v1::JoinRequest req;
    req.set_receiver_id(id);
    req.set_chunk_endpoint(absl::StrCat("tcp://127.0.0.1:", 20000 + index));  // never dialled
    req.set_held_version(held);
    r1rl::v1::JoinResponse resp;
    if (!stub->Join(&ctx, req, &resp).ok()) return false;
    id = resp.receiver_id();
    parent_id = resp.parent().id();
    if (resp.sync_wait_ms() > 0) sync_wait_ms = resp.sync_wait_ms();
    return true;
  };
  while (!sh->stop && !join()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ++sh->joined;
  while (!sh->stop) {
    if (fetching >= 0 && Clock::now() >= fetched_at) {
      held = fetching, fetching = -1;
      std::lock_guard<std::mutex> lock(sh->mu);
      sh->held[static_cast<size_t>(index)] = held;
    }
    int wait = sync_wait_ms;
    if (fetching >= 0) {  // progress every 500 ms while fetching, as a receiver reports it
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(fetched_at - Clock::now()).count();
      wait = static_cast<int>(std::clamp<int64_t>(left, 0, 500));
    }
    r1rl::v1::SyncRequest req;
    req.set_receiver_id(id);
    req.set_held_version(held);
    req.set_fetching_version(fetching);
    req.set_chunks_done(fetching >= 0 ? chunks / 2 : 0);
    req.set_wait_ms(wait);
    req.set_parent_id(parent_id);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait + 10000));
    r1rl::v1::SyncResponse resp;
    const grpc::Status s = stub->Sync(&ctx, req, &resp);
    ++sh->syncs;
    if (!s.ok()) {
      if (!sh->stop) ++sh->errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (resp.rejoin()) {
      ++sh->rejoins;
      join();
      continue;
    }
    if (resp.has_parent()) parent_id = resp.parent().id();
    if (resp.has_manifest() && resp.manifest().version() > held &&
        resp.manifest().version() != fetching) {
      const r1rl::v1::Manifest& m = resp.manifest();
      const double notify = static_cast<double>(UnixMs() - m.published_unix_ms());
      sh->manifest_bytes = static_cast<int64_t>(m.ByteSizeLong());
      sh->manifest_chunks = m.chunks_size();
      {
        std::lock_guard<std::mutex> lock(sh->mu);
        sh->notify_ms.push_back(notify);
      }
      fetching = m.version();
      chunks = m.chunks_size();
      fetched_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(f.fetch_seconds));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: broadcast_control_bench [--receivers N] [--versions V] [--model-mb S] "
                 "[--chunk-kb C] [--publish-every P] [--fetch-seconds F] [--fanout K]\n");
    return 2;
  }
  r1rl::bench::RaiseFileLimit();  // a connection per receiver
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("r1rl_broadcast_control_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  r1rl::security::SecurityOptions sec;
  sec.keys_dir = dir + "/keys";
  if (auto s = r1rl::security::InitKeys(sec.keys_dir, {{}, 1, true}); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  const int port = r1rl::bench::FreeLoopbackPort();
  const std::string target = absl::StrCat("127.0.0.1:", port);
  const std::string bin =
      (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "bin").string();
  const pid_t svc = r1rl::bench::SpawnLogged(
      {bin + "/r1rl-param-broadcast", "--set", "broadcast.grpc_address=" + target, "--set",
       "broadcast.chunk_address=tcp://127.0.0.1:*", "--set",
       "broadcast.metrics_address=127.0.0.1:0", "--set", "security.keys_dir=" + sec.keys_dir,
       "--set", absl::StrCat("broadcast.chunk_bytes=", f.chunk_kb * 1024), "--set",
       absl::StrCat("broadcast.fanout=", f.fanout), "--set", "broadcast.slow_lag_chunks=0", "--set",
       "broadcast.receiver_timeout_ms=30000", "--set", "runtime.log_level=warn"},
      dir + "/service.log");
  if (svc < 0) {
    std::fprintf(stderr, "broadcast_control_bench: cannot start %s/r1rl-param-broadcast\n",
                 bin.c_str());
    return 1;
  }
  std::printf(
      "broadcast_control_bench: %d receivers (TLS + worker token), %d versions of %.0f MB in "
      "%lld kB chunks every %.0f s, fetch %.1f s, fanout %d\n",
      f.receivers, f.versions, f.model_mb, static_cast<long long>(f.chunk_kb), f.publish_every,
      f.fetch_seconds, f.fanout);
  std::fflush(stdout);

  Shared sh;
  sh.held.assign(static_cast<size_t>(f.receivers), -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < f.receivers; ++i) threads.emplace_back(RunReceiver, i, target, sec, f, &sh);
  auto publisher = r1rl::broadcast::BroadcastPublisher::Open(target, sec);
  int rc = 0;
  std::vector<double> publish_s;
  const auto bytes = static_cast<int64_t>(f.model_mb * 1e6);
  const auto join_by = Clock::now() + std::chrono::seconds(120);  // the receivers join
  while (sh.joined < f.receivers && Clock::now() < join_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // and park their first Sync
  const double cpu0 = r1rl::bench::ProcessCpuSeconds(svc);
  const auto t0 = Clock::now();
  const int64_t syncs0 = sh.syncs;
  for (int v = 0; v < f.versions && publisher.ok(); ++v) {
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(v * f.publish_every));
    std::this_thread::sleep_until(due);
    const std::string w = r1rl::bench::SyntheticWeights(bytes, 7, v == 0 ? 0.0 : 0.1 * v);
    const auto p0 = Clock::now();
    auto r = (*publisher)->Publish(v, w);
    if (!r.ok()) {
      std::fprintf(stderr, "publish %d: %s\n", v, std::string(r.status().message()).c_str());
      rc = 1;
      break;
    }
    publish_s.push_back(std::chrono::duration<double>(Clock::now() - p0).count());
  }
  // Until every receiver holds the last version, or the fetch time + 60 s.
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(f.fetch_seconds + 60));
  auto all_hold = [&] {
    std::lock_guard<std::mutex> lock(sh.mu);
    return std::all_of(sh.held.begin(), sh.held.end(),
                       [&](int64_t h) { return h == f.versions - 1; });
  };
  while (Clock::now() < deadline && !all_hold()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double run_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = r1rl::bench::ProcessCpuSeconds(svc) - cpu0;
  const int64_t syncs = sh.syncs - syncs0;
  // The service's own view: seconds from each publish until all receivers held it.
  r1rl::v1::BroadcastStatus status;
  {
    auto ch = r1rl::security::OpenChannel(target, sec, r1rl::security::Role::kAdmin);
    if (ch.ok()) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      (void)r1rl::v1::ParamBroadcast::NewStub(*ch)->Status(&ctx, {}, &status);
    }
  }
  const double rss = r1rl::bench::ProcessPeakRssBytes(svc);
  sh.stop = true;
  for (auto& t : threads) t.join();
  kill(svc, SIGTERM);
  int st = 0;
  waitpid(svc, &st, 0);

  const bool held_all = all_hold();
  std::vector<double> notify;
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    notify = sh.notify_ms;
  }
  std::printf("Sync: %lld calls in %.1f s (%.0f/s), %zu answered with a new manifest\n",
              static_cast<long long>(syncs), run_s, static_cast<double>(syncs) / run_s,
              notify.size());
  std::printf(
      "published -> receiver has the manifest: p50 %.0f ms, p99 %.0f ms, max %.0f ms "
      "(%zu of %d receivers x versions)\n",
      Percentile(notify, 0.5), Percentile(notify, 0.99), Percentile(notify, 1.0), notify.size(),
      f.receivers * f.versions);
  const int64_t mchunks = std::max<int64_t>(1, sh.manifest_chunks.load());
  std::printf("manifest: %lld bytes for %lld chunks (%.1f bytes per chunk); publish p50 %.2f s\n",
              static_cast<long long>(sh.manifest_bytes.load()),
              static_cast<long long>(sh.manifest_chunks.load()),
              static_cast<double>(sh.manifest_bytes.load()) / static_cast<double>(mchunks),
              Percentile(publish_s, 0.5));
  std::string to_all;
  for (const auto& v : status.versions()) {
    absl::StrAppend(&to_all, " v", v.version(), " ", v.seconds_to_all(), " s (", v.holders(),
                    " holders);");
  }
  std::printf("service: seconds to all:%s\n", to_all.c_str());
  std::printf("service process: %.3f cores over the run (%.1f CPU s / %.1f s), peak RSS %.0f MB\n",
              cpu / run_s, cpu, run_s, rss / (1 << 20));
  const bool ok = rc == 0 && held_all && sh.errors == 0;
  std::printf("audit: every receiver holds v%d: %s; rpc errors %lld; rejoins %lld: %s\n",
              f.versions - 1, held_all ? "yes" : "no", static_cast<long long>(sh.errors.load()),
              static_cast<long long>(sh.rejoins.load()), ok ? "OK" : "FAILED");
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
