#include "services/param_broadcast/broadcast_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/broadcast/chunk_server.h"
#include "lib/broadcast/chunk_store.h"
#include "lib/broadcast/collective_membership.h"
#include "lib/broadcast/manifest.h"
#include "lib/broadcast/relay_topology.h"
#include "lib/metrics/exposer.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "r1rl/v1/broadcast.grpc.pb.h"
#include "services/param_broadcast/broadcast_metrics.h"

namespace r1rl::broadcast {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status OutOfRange(const std::string& key, int64_t v, int64_t lo, int64_t hi) {
  return absl::InvalidArgumentError(absl::StrCat(key, " = ", v, ": must be in ", lo, "..", hi));
}

}  // namespace

absl::StatusOr<BroadcastServerOptions> BroadcastServerOptionsFromConfig(const config::Config& cfg) {
  BroadcastServerOptions o;
  o.grpc_address = cfg.GetString("broadcast.grpc_address");
  o.chunk_address = cfg.GetString("broadcast.chunk_address");
  o.advertise_host = cfg.GetString("broadcast.advertise_host");
  o.metrics_address = cfg.GetString("broadcast.metrics_address");
  auto security = security::SecurityFromConfig(cfg);
  if (!security.ok()) return security.status();
  o.security = *security;
  struct IntKey {
    const char* key;
    int64_t lo, hi;
    int64_t* out64;
    int* out;
  };
  int64_t chunk_bytes = 0, max_model = 0;
  const IntKey keys[] = {
      {"broadcast.keep_versions", 1, 64, nullptr, &o.keep_versions},
      {"broadcast.chunk_bytes", 4096, int64_t{1} << 30, &chunk_bytes, nullptr},
      {"broadcast.max_chunks", 0, int64_t{1} << 30, &o.max_chunks, nullptr},
      {"broadcast.fanout", 1, 1024, nullptr, &o.fanout},
      {"broadcast.window", 1, 256, nullptr, &o.window},
      {"broadcast.sync_wait_ms", 10, 30000, nullptr, &o.sync_wait_ms},
      {"broadcast.relay_timeout_ms", 50, 600000, nullptr, &o.relay_timeout_ms},
      {"broadcast.receiver_timeout_ms", 100, 3600000, nullptr, &o.receiver_timeout_ms},
      {"broadcast.slow_lag_chunks", 0, int64_t{1} << 30, nullptr, &o.slow_lag_chunks},
      {"broadcast.max_model_bytes", 1, int64_t{1} << 50, &max_model, nullptr},
      {"broadcast.collective_max_receivers", 1, 1 << 20, nullptr, &o.collective_max_receivers},
      {"broadcast.collective_timeout_s", 1, 86400, nullptr, &o.collective_timeout_s},
  };
  for (const IntKey& k : keys) {
    const int64_t v = cfg.GetInt(k.key);
    if (v < k.lo || v > k.hi) return OutOfRange(k.key, v, k.lo, k.hi);
    if (k.out64) *k.out64 = v;
    if (k.out) *k.out = static_cast<int>(v);
  }
  o.chunk_bytes = chunk_bytes;
  o.max_model_bytes = max_model;
  o.collective = cfg.GetBool("broadcast.collective");
  if (o.receiver_timeout_ms <= o.sync_wait_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broadcast.receiver_timeout_ms = ", o.receiver_timeout_ms,
        ": must exceed broadcast.sync_wait_ms = ", o.sync_wait_ms, " (a Sync is the heartbeat)"));
  }
  return o;
}

struct BroadcastServer::State : public v1::ParamBroadcast::Service, public BroadcastMetrics {
  BroadcastServerOptions options;
  zmq::context_t context{1};
  std::unique_ptr<transport::ZapHandler> zap;  // CurveZMQ: worker keys only; outlives sockets
  ChunkStore store;
  std::unique_ptr<ChunkServer> chunk_server;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  std::unique_ptr<metrics::Exposer> exposer;
  std::thread reaper;
  bool shut_down = false;

  struct Version {
    v1::Manifest manifest;
    Clock::time_point published;
    std::set<std::string> awaited;  // receivers live at publish that do not hold it yet
    std::atomic<int64_t> bytes_sent{0};
    int chunks_unchanged = 0;
    double seconds_to_all = -1;
  };
  struct Receiver {
    std::string endpoint;
    Clock::time_point last_seen;
    int64_t held = -1, fetching = -1;
    int chunks_done = 0;
    v1::ReceiverCounters counters;
    int slow_reports = 0;
    std::deque<Clock::time_point> recent_failures;
    Clock::time_point root_until{};
    bool collective = false;  // asked into the collective group
  };

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::deque<std::shared_ptr<Version>> versions;  // oldest first
  std::map<std::string, Receiver> receivers;
  std::unique_ptr<RelayTopology> topology;
  int64_t next_id = 0;
  // The collective path. `group_in_use`: the learner sends the newest version through the
  // current group (it asked to, and the group has members); `rendezvous`: where the current
  // generation meets ("" until the learner says, by rendezvous_deadline).
  std::unique_ptr<CollectiveMembership> membership;
  bool group_in_use = false;
  std::string rendezvous;
  v1::RendezvousRequest rendezvous_request;  // how the learner sends (backend, buckets, wire)
  Clock::time_point rendezvous_deadline{};

  static constexpr char kCollectiveParent[] = "collective";

  // `id` takes versions through the collective group now, not from a relay parent.
  bool InCollectiveLocked(const std::string& id) const {
    return group_in_use && !membership->broken() && membership->RankOf(id) > 0;
  }

  // The group stopped working (a failed version, no rendezvous): its members go back to the
  // chains until the next version forms a new generation.
  void BreakGroupLocked(const std::string& outcome, const std::string& why) {
    if (!group_in_use || membership->broken()) return;
    membership->Break();
    m_collective_versions.Add({{"outcome", outcome}}).Increment();
    m_collective_members.Set(0);
    spdlog::warn(
        "broadcast: collective group generation {} failed ({}): its {} members take the "
        "relay chains until the next version",
        membership->current().generation, why, membership->current().receivers.size());
    cv.notify_all();
  }

  int64_t NewestLocked() const {
    return versions.empty() ? -1 : versions.back()->manifest.version();
  }

  std::shared_ptr<Version> FindLocked(int64_t version) {
    for (auto& v : versions)
      if (v->manifest.version() == version) return v;
    return nullptr;
  }

  // The newest version is neither held nor being fetched by the receiver.
  bool HasNewsLocked(const v1::SyncRequest& req) const {
    const int64_t newest = NewestLocked();
    return newest >= 0 && newest != req.held_version() && newest != req.fetching_version();
  }

  v1::Peer ParentLocked(const std::string& id) {
    Receiver& r = receivers[id];
    if (InCollectiveLocked(id)) {
      if (topology->Has(id)) {
        topology->Remove(id);  // its child is fed by its parent now
        cv.notify_all();
      }
      v1::Peer p;
      p.set_id(kCollectiveParent);
      return p;
    }
    if (Clock::now() < r.root_until) return topology->root();
    if (!topology->Has(id)) topology->Join(id, r.endpoint);
    return *topology->Parent(id);
  }

  // A receiver that holds `held` (verified) no longer awaits it or anything published before.
  void MarkHeldLocked(const std::string& id, int64_t held) {
    size_t upto = 0;  // the versions up to the one held
    for (size_t i = 0; i < versions.size(); ++i)
      if (versions[i]->manifest.version() == held) upto = i + 1;
    for (size_t i = 0; i < upto; ++i) {
      if (versions[i]->seconds_to_all >= 0) continue;
      versions[i]->awaited.erase(id);
      CompleteIfDoneLocked(*versions[i]);
    }
  }

  void CompleteIfDoneLocked(Version& v) {
    if (!v.awaited.empty() || v.seconds_to_all >= 0) return;
    v.seconds_to_all = std::chrono::duration<double>(Clock::now() - v.published).count();
    m_seconds_to_all.Observe(v.seconds_to_all);
    m_last_seconds_to_all.Set(v.seconds_to_all);
    spdlog::info("broadcast: version {} reached every receiver in {:.3f} s ({:.2f} copies sent)",
                 v.manifest.version(), v.seconds_to_all,
                 static_cast<double>(v.bytes_sent) /
                     static_cast<double>(std::max<int64_t>(1, v.manifest.total_bytes())));
  }

  void ForgetLocked(const std::string& id) {
    receivers.erase(id);
    topology->Remove(id);
    membership->Leave(id);  // out of the group from the next boundary on
    m_lag.Add({{"receiver", id}}).Set(-1);
    for (auto& v : versions) {
      v->awaited.erase(id);
      CompleteIfDoneLocked(*v);
    }
    cv.notify_all();
  }

  grpc::Status Reject(const std::string& reason, grpc::StatusCode code, const std::string& msg) {
    m_rejected.Add({{"reason", reason}}).Increment();
    spdlog::warn("broadcast: {}", msg);
    return grpc::Status(code, msg);
  }

  grpc::Status Publish(grpc::ServerContext*, grpc::ServerReader<v1::PublishPart>* reader,
                       v1::PublishResponse* out) override {
    v1::PublishPart part;
    std::string bytes;
    int64_t version = -1, total = -1;
    bool first = true, learner_collective = false;
    while (reader->Read(&part)) {
      if (first) {
        first = false;
        version = part.version();
        total = part.total_bytes();
        learner_collective = part.collective();
        int64_t newest;
        {
          std::lock_guard<std::mutex> lock(mu);
          newest = NewestLocked();
        }
        if (version < 0)
          return Reject("bad_version", grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("publish: version = ", version, ": must be >= 0"));
        if (version <= newest)
          spdlog::warn(
              "broadcast: version {} published after {}: a restarted learner; the "
              "versions from {} on are replaced",
              version, newest, version);
        if (total <= 0 || total > options.max_model_bytes)
          return Reject(
              "bad_size", grpc::StatusCode::INVALID_ARGUMENT,
              absl::StrCat("publish: total_bytes = ", total,
                           " (broadcast.max_model_bytes = ", options.max_model_bytes, ")"));
        bytes.reserve(static_cast<size_t>(total));
      }
      if (static_cast<int64_t>(bytes.size() + part.data().size()) > total)
        return Reject(
            "oversized", grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("publish: version ", version, " sent more than total_bytes = ", total));
      bytes += part.data();
    }
    if (first || static_cast<int64_t>(bytes.size()) != total)
      return Reject("truncated", grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("publish: version ", version, ": ", bytes.size(), " of ", total,
                                 " bytes arrived"));
    auto manifest = BuildManifest(
        version, bytes,
        ChunkBytesFor(static_cast<int64_t>(bytes.size()), options.chunk_bytes, options.max_chunks),
        /*tensor_hashes=*/options.collective && learner_collective);
    if (!manifest.ok())
      return Reject("malformed", grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("publish: ", manifest.status().message()));
    auto v = std::make_shared<Version>();
    v->manifest = std::move(*manifest);
    for (int i = 0; i < v->manifest.chunks_size(); ++i) {
      const std::string& h = v->manifest.chunks(i).hash();
      if (store.Has(h)) {
        ++v->chunks_unchanged;
      } else {
        store.Put(h, std::make_shared<const std::string>(ChunkOf(bytes, v->manifest, i)));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    while (!versions.empty() && versions.back()->manifest.version() >= version) versions.pop_back();
    v->published = Clock::now();
    for (const auto& [id, r] : receivers) v->awaited.insert(id);
    versions.push_back(v);
    while (static_cast<int>(versions.size()) > options.keep_versions) versions.pop_front();
    std::unordered_set<std::string> keep;
    for (const auto& kept : versions)
      for (const v1::ChunkEntry& c : kept->manifest.chunks()) keep.insert(c.hash());
    store.RetainOnly(keep);
    m_published.Increment();
    m_newest.Set(static_cast<double>(version));
    m_bytes_published.Increment(static_cast<double>(total));
    m_chunks_unchanged.Increment(v->chunks_unchanged);
    out->set_version(version);
    out->set_chunks(v->manifest.chunks_size());
    out->set_chunks_unchanged(v->chunks_unchanged);
    out->set_hash(v->manifest.hash());
    FormGroupLocked(version, learner_collective, out);
    spdlog::info(
        "broadcast: version {} published ({} bytes, {} chunks, {} unchanged); {} receivers",
        version, total, v->manifest.chunks_size(), v->chunks_unchanged, receivers.size());
    CompleteIfDoneLocked(*v);  // nobody to wait for
    cv.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status Join(grpc::ServerContext*, const v1::JoinRequest* req,
                    v1::JoinResponse* out) override {
    if (req->chunk_endpoint().rfind("tcp://", 0) != 0 || req->chunk_endpoint().size() > 512)
      return Reject("bad_request", grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("join: chunk_endpoint = \"", req->chunk_endpoint().substr(0, 512),
                                 "\": tcp://host:port was expected"));
    std::lock_guard<std::mutex> lock(mu);
    std::string id = req->receiver_id();
    if (id.empty() || id.size() > 256) id = absl::StrCat("rx-", ++next_id);
    Receiver& r = receivers[id];
    r.endpoint = req->chunk_endpoint();
    r.last_seen = Clock::now();
    r.held = req->held_version();
    r.collective = options.collective && req->collective();
    if (r.collective) {
      membership->Join(id);  // in the group from the next version the learner publishes
    } else {
      membership->Leave(id);
    }
    topology->Remove(id);  // a rejoin (restarted receiver) goes to a tail
    out->set_receiver_id(id);
    *out->mutable_parent() = ParentLocked(id);
    out->set_sync_wait_ms(options.sync_wait_ms);
    out->set_relay_timeout_ms(options.relay_timeout_ms);
    out->set_window(options.window);
    m_receivers.Set(static_cast<double>(receivers.size()));
    spdlog::info("broadcast: receiver {} joined ({}), parent {}", id, r.endpoint,
                 out->parent().id());
    cv.notify_all();
    return grpc::Status::OK;
  }

  void CountDeltas(Receiver& r, const v1::ReceiverCounters& c) {
    auto delta = [](int64_t now, int64_t before) {
      return static_cast<double>(std::max<int64_t>(0, now - before));
    };
    m_bytes_relayed.Increment(delta(c.bytes_sent(), r.counters.bytes_sent()));
    m_bytes_received.Increment(delta(c.bytes_received(), r.counters.bytes_received()));
    m_chunks_skipped.Increment(delta(c.chunks_skipped(), r.counters.chunks_skipped()));
    m_hash_failures.Increment(delta(c.hash_failures(), r.counters.hash_failures()));
    m_versions_skipped.Increment(delta(c.versions_skipped(), r.counters.versions_skipped()));
    r.counters = c;
  }

  // A receiver far behind its parent on the version in flight, three reports in a row,
  // goes to a tail (its child is fed by its parent from now on).
  void CheckSlowLocked(const std::string& id, Receiver& r) {
    if (options.slow_lag_chunks <= 0 || r.fetching < 0) {
      r.slow_reports = 0;
      return;
    }
    auto p = topology->Parent(id);
    if (!p || p->id() == topology->root().id()) return;
    auto pit = receivers.find(p->id());
    auto v = FindLocked(r.fetching);
    if (pit == receivers.end() || !v) return;
    const Receiver& parent = pit->second;
    int parent_done = -1;
    if (parent.held >= r.fetching)
      parent_done = v->manifest.chunks_size();
    else if (parent.fetching == r.fetching)
      parent_done = parent.chunks_done;
    if (parent_done - r.chunks_done <= options.slow_lag_chunks) {
      r.slow_reports = 0;
      return;
    }
    if (++r.slow_reports < 3) return;
    r.slow_reports = 0;
    auto place = topology->Find(id);
    if (place.position + 1 == static_cast<int>(topology->chains()[place.chain].size())) return;
    topology->Remove(id);
    topology->Join(id, r.endpoint);
    m_slow_moved.Increment();
    spdlog::warn("broadcast: receiver {} is {} chunks behind its parent {}: moved to a tail", id,
                 parent_done - r.chunks_done, p->id());
    cv.notify_all();
  }

  grpc::Status Sync(grpc::ServerContext* ctx, const v1::SyncRequest* req,
                    v1::SyncResponse* out) override {
    if (req->wait_ms() < 0 || req->wait_ms() > 30000)
      return Reject("bad_request", grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("sync: wait_ms = ", req->wait_ms(), ": must be in 0..30000"));
    const std::string& id = req->receiver_id();
    std::unique_lock<std::mutex> lock(mu);
    auto it = receivers.find(id);
    if (it == receivers.end()) {
      out->set_rejoin(true);
      return grpc::Status::OK;
    }
    Receiver& r = it->second;
    r.last_seen = Clock::now();
    r.held = req->held_version();
    r.fetching = req->fetching_version();
    r.chunks_done = req->chunks_done();
    CountDeltas(r, req->counters());
    MarkHeldLocked(id, r.held);
    CheckSlowLocked(id, r);
    if (req->collective_failed() != 0 && group_in_use &&
        req->collective_failed() == membership->current().generation) {
      BreakGroupLocked("failed", absl::StrCat("receiver ", id, " reported it"));
    }
    const auto deadline = Clock::now() + std::chrono::milliseconds(req->wait_ms());
    auto news = [&] {
      if (stopping || ctx->IsCancelled() || !receivers.count(id)) return true;
      if (HasNewsLocked(*req)) return true;
      if (CollectiveNewsLocked(id, *req)) return true;
      return ParentLocked(id).id() != req->parent_id();
    };
    // Woken by news; every 500 ms it looks at the call itself (a client gone away).
    while (!news() && Clock::now() < deadline)
      cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(500)));
    if (!receivers.count(id)) {
      out->set_rejoin(true);
      return grpc::Status::OK;
    }
    receivers[id].last_seen = Clock::now();
    std::shared_ptr<const Version> news_version;
    if (HasNewsLocked(*req)) news_version = versions.back();
    *out->mutable_parent() = ParentLocked(id);
    if (InCollectiveLocked(id)) {
      v1::CollectiveAssignment* a = out->mutable_collective();
      const CollectiveGroup& g = membership->current();
      a->set_generation(g.generation);
      a->set_rank(membership->RankOf(id));
      a->set_world_size(g.world_size());
      a->set_rendezvous(rendezvous);
      a->set_version(g.version);
      a->set_backend(rendezvous_request.backend());
      a->set_bucket_bytes(rendezvous_request.bucket_bytes());
      a->set_wire(rendezvous_request.wire());
    }
    lock.unlock();
    // A version's manifest never changes once published: copied outside the lock, so the
    // receivers a publish wakes all at once are not answered one after the other.
    if (news_version) *out->mutable_manifest() = news_version->manifest;
    return grpc::Status::OK;
  }

  grpc::Status Reparent(grpc::ServerContext*, const v1::ReparentRequest* req,
                        v1::ReparentResponse* out) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = receivers.find(req->receiver_id());
    if (it == receivers.end()) {
      out->set_rejoin(true);
      *out->mutable_parent() = topology->root();
      return grpc::Status::OK;
    }
    static const std::set<std::string> kReasons = {
        "timeout", "not_held", "corrupt", "stalled", "bad_request", "bad_endpoint", "closed"};
    const std::string reason = kReasons.count(req->reason()) ? req->reason() : "other";
    m_reparents.Add({{"reason", reason}}).Increment();
    Receiver& r = it->second;
    r.last_seen = Clock::now();
    const auto now = Clock::now();
    r.recent_failures.push_back(now);
    while (!r.recent_failures.empty() && now - r.recent_failures.front() > std::chrono::seconds(30))
      r.recent_failures.pop_front();
    if (req->parent_id() != topology->root().id()) topology->Remove(req->parent_id());
    if (r.recent_failures.size() >= 3) {
      r.root_until = now + std::chrono::seconds(30);
      r.recent_failures.clear();
    }
    *out->mutable_parent() = ParentLocked(req->receiver_id());
    spdlog::warn("broadcast: receiver {} lost parent {} ({}, version {} chunk {}): now {}",
                 req->receiver_id(), req->parent_id(), reason, req->version(), req->chunk(),
                 out->parent().id());
    cv.notify_all();
    return grpc::Status::OK;
  }

  // At a version the learner published: the group it goes through (a new generation when the
  // members changed or the last one failed), told to the learner in `out`.
  void FormGroupLocked(int64_t version, bool learner_collective, v1::PublishResponse* out) {
    if (!options.collective) return;
    if (group_in_use && !membership->broken() && rendezvous.empty()) {
      BreakGroupLocked("no_rendezvous", "the learner said nowhere to meet");
    }
    if (!learner_collective) {
      if (group_in_use) cv.notify_all();  // members back to the chains
      group_in_use = false;
      m_collective_members.Set(0);
      return;
    }
    const int64_t before = membership->current().generation;
    const CollectiveGroup& g = membership->Boundary(version);
    group_in_use = g.world_size() > 1;
    m_collective_generation.Set(static_cast<double>(g.generation));
    m_collective_members.Set(static_cast<double>(g.receivers.size()));
    if (g.generation != before) {
      rendezvous.clear();
      rendezvous_deadline = Clock::now() + std::chrono::seconds(options.collective_timeout_s);
      if (group_in_use)
        spdlog::info(
            "broadcast: collective group generation {} at version {}: the learner and "
            "{} receivers",
            g.generation, version, g.receivers.size());
    }
    if (!group_in_use) return;
    v1::CollectiveGroupInfo* info = out->mutable_collective();
    info->set_generation(g.generation);
    info->set_world_size(g.world_size());
    info->set_version(g.version);
    cv.notify_all();
  }

  // The receiver's collective assignment is out of date (it joined or left the group, or the
  // rendezvous became known).
  bool CollectiveNewsLocked(const std::string& id, const v1::SyncRequest& req) const {
    if (!InCollectiveLocked(id)) return req.collective_generation() != 0;
    return req.collective_generation() != membership->current().generation ||
           (!rendezvous.empty() && !req.collective_rendezvous());
  }

  grpc::Status Rendezvous(grpc::ServerContext*, const v1::RendezvousRequest* req,
                          v1::RendezvousResponse*) override {
    const std::string& a = req->address();
    const size_t colon = a.rfind(':');
    if (a.empty() || a.size() > 256 || colon == std::string::npos || colon == 0 ||
        colon + 1 == a.size())
      return Reject(
          "bad_request", grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("rendezvous: address = \"", a.substr(0, 256), "\": host:port was expected"));
    std::lock_guard<std::mutex> lock(mu);
    if (!group_in_use || req->generation() != membership->current().generation)
      return Reject("bad_request", grpc::StatusCode::FAILED_PRECONDITION,
                    absl::StrCat("rendezvous: generation = ", req->generation(),
                                 ": not the collective group in use (",
                                 group_in_use ? membership->current().generation : 0, ")"));
    if (req->bucket_bytes() < 1 || (req->backend() != "gloo" && req->backend() != "nccl"))
      return Reject("bad_request", grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("rendezvous: backend = \"", req->backend().substr(0, 64),
                                 "\", bucket_bytes = ", req->bucket_bytes(),
                                 ": gloo or nccl, and at least 1 byte, were expected"));
    rendezvous = a;
    rendezvous_request = *req;
    spdlog::info("broadcast: collective group generation {} meets at {}", req->generation(), a);
    cv.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status CollectiveDone(grpc::ServerContext*, const v1::CollectiveReport* req,
                              v1::CollectiveReportResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    if (req->generation() != membership->current().generation) return grpc::Status::OK;  // old
    if (req->ok()) {
      m_collective_versions.Add({{"outcome", "ok"}}).Increment();
      m_collective_bytes.Increment(static_cast<double>(std::max<int64_t>(0, req->bytes())));
      spdlog::info("broadcast: version {} went through collective generation {} in {:.3f} s",
                   req->version(), req->generation(), req->seconds());
    } else {
      BreakGroupLocked(
          "failed", absl::StrCat("version ", req->version(), ": ", req->error().substr(0, 1000)));
      // The members the learner found gone (a stopped heartbeat, absent at the rendezvous):
      // out now, so that the next generation does not wait for them. A live one wrongly
      // named joins again at its next Sync.
      std::vector<std::string> gone;
      const std::vector<std::string>& members = membership->current().receivers;
      for (int rank : req->gone_ranks()) {
        if (rank >= 1 && rank <= static_cast<int>(members.size()))
          gone.push_back(members[static_cast<size_t>(rank - 1)]);
      }
      for (const std::string& id : gone) {
        if (!receivers.count(id)) continue;
        spdlog::warn("broadcast: receiver {} is gone from the collective group: dropped", id);
        ForgetLocked(id);
      }
      if (!gone.empty()) m_receivers.Set(static_cast<double>(receivers.size()));
    }
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext*, const v1::BroadcastStatusRequest*,
                      v1::BroadcastStatus* out) override {
    std::lock_guard<std::mutex> lock(mu);
    out->set_newest_version(NewestLocked());
    out->set_fanout(options.fanout);
    out->set_chunk_endpoint(chunk_server->endpoint());
    for (const auto& v : versions) {
      v1::VersionInfo* info = out->add_versions();
      info->set_version(v->manifest.version());
      info->set_total_bytes(v->manifest.total_bytes());
      info->set_chunks(v->manifest.chunks_size());
      info->set_chunks_unchanged(v->chunks_unchanged);
      info->set_bytes_sent_by_service(v->bytes_sent);
      int holders = 0;
      for (const auto& [id, r] : receivers) holders += r.held == v->manifest.version();
      info->set_holders(holders);
      info->set_seconds_to_all(v->seconds_to_all);
    }
    const auto now = Clock::now();
    for (const auto& [id, r] : receivers) {
      v1::ReceiverInfo* info = out->add_receivers();
      info->set_receiver_id(id);
      info->set_endpoint(r.endpoint);
      auto place = topology->Find(id);
      auto parent = topology->Parent(id);
      info->set_parent_id(parent ? parent->id() : "");
      info->set_chain(place.chain);
      info->set_position(place.position);
      info->set_held_version(r.held);
      info->set_fetching_version(r.fetching);
      info->set_chunks_done(r.chunks_done);
      info->set_seconds_since_seen(std::chrono::duration<double>(now - r.last_seen).count());
    }
    return grpc::Status::OK;
  }

  void ReapLoop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(250));
      const auto now = Clock::now();
      std::vector<std::string> gone;
      for (const auto& [id, r] : receivers)
        if (now - r.last_seen > std::chrono::milliseconds(options.receiver_timeout_ms))
          gone.push_back(id);
      for (const std::string& id : gone) {
        spdlog::warn("broadcast: receiver {} silent for {} ms: out of its chain", id,
                     options.receiver_timeout_ms);
        ForgetLocked(id);
      }
      if (!gone.empty()) m_receivers.Set(static_cast<double>(receivers.size()));
      if (group_in_use && !membership->broken() && rendezvous.empty() &&
          now > rendezvous_deadline) {
        BreakGroupLocked("no_rendezvous", absl::StrCat("no rendezvous from the learner within ",
                                                       options.collective_timeout_s,
                                                       " s (broadcast.collective_timeout_s)"));
      }
    }
  }

  void RefreshGauges() {
    std::lock_guard<std::mutex> lock(mu);
    const int64_t newest = NewestLocked();
    for (const auto& [id, r] : receivers)
      m_lag.Add({{"receiver", id}})
          .Set(static_cast<double>(r.held < 0 ? newest + 1 : newest - r.held));
    if (!versions.empty()) {
      const auto& v = versions.back();
      m_copies.Set(static_cast<double>(v->bytes_sent) /
                   static_cast<double>(std::max<int64_t>(1, v->manifest.total_bytes())));
    }
  }

  void OnSent(int64_t version, int64_t bytes) {
    m_bytes_sent.Increment(static_cast<double>(bytes));
    std::lock_guard<std::mutex> lock(mu);
    if (auto v = FindLocked(version)) v->bytes_sent += bytes;
  }
};

BroadcastServer::BroadcastServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<BroadcastServer>> BroadcastServer::Start(
    const BroadcastServerOptions& options) {
  auto state = std::make_unique<State>();
  State* s = state.get();
  s->options = options;
  ChunkServer::Options co;
  co.bind = options.chunk_address;
  co.advertise_host = options.advertise_host;
  co.field = "broadcast.chunk_address";
  auto zap = security::StartZap(s->context, options.security, {{"chunks", "worker"}}, &s->registry);
  if (!zap.ok()) return zap.status();
  s->zap = std::move(*zap);
  auto curve = security::CurveServer(options.security, "broadcast", "chunks");
  if (!curve.ok()) return curve.status();
  co.curve = *curve;
  auto chunks =
      ChunkServer::Start(s->context, co, &s->store, /*on_its_way=*/nullptr,
                         [s](int64_t version, int64_t bytes) { s->OnSent(version, bytes); });
  if (!chunks.ok()) return chunks.status();
  s->chunk_server = std::move(*chunks);
  v1::Peer root;
  root.set_id("root");
  root.set_endpoint(s->chunk_server->endpoint());
  s->topology = std::make_unique<RelayTopology>(options.fanout, root);
  s->membership = std::make_unique<CollectiveMembership>(options.collective_max_receivers);
  s->m_newest.Set(-1);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  auto credentials = security::ServerCredentials(options.security, &s->registry);
  if (!credentials.ok()) return credentials.status();
  auto exposer_options = security::MetricsOptions(options.security);
  if (!exposer_options.ok()) return exposer_options.status();
  builder.AddListeningPort(options.grpc_address, *credentials, &s->grpc_port);
  builder.SetMaxReceiveMessageSize(8 << 20);
  builder.RegisterService(s);
  s->grpc_server = builder.BuildAndStart();
  if (!s->grpc_server || s->grpc_port == 0)
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast.grpc_address = ", options.grpc_address, ": cannot listen there"));
  auto exposer = metrics::Exposer::Start(
      options.metrics_address, &s->registry, [s] { s->RefreshGauges(); }, *exposer_options);
  if (!exposer.ok()) {
    s->grpc_server->Shutdown();
    return absl::InvalidArgumentError(absl::StrCat(
        "broadcast.metrics_address = ", options.metrics_address, ": ", exposer.status().message()));
  }
  s->exposer = std::move(*exposer);
  s->reaper = std::thread([s] { s->ReapLoop(); });
  spdlog::info(
      "broadcast: gRPC port {}, chunks {}, metrics port {}; fanout {}, chunk {} bytes, "
      "keeping {} versions",
      s->grpc_port, s->chunk_server->endpoint(), s->exposer->port(), options.fanout,
      options.chunk_bytes, options.keep_versions);
  return std::unique_ptr<BroadcastServer>(new BroadcastServer(std::move(state)));
}

BroadcastServer::~BroadcastServer() { Shutdown(); }

void BroadcastServer::Shutdown() {
  if (!state_ || state_->shut_down) return;
  state_->shut_down = true;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  state_->cv.notify_all();
  state_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (state_->reaper.joinable()) state_->reaper.join();
  state_->chunk_server->Stop();
}

int BroadcastServer::grpc_port() const { return state_->grpc_port; }
int BroadcastServer::metrics_port() const { return state_->exposer->port(); }
std::string BroadcastServer::chunk_endpoint() const { return state_->chunk_server->endpoint(); }

}  // namespace r1rl::broadcast
