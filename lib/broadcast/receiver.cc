#include "lib/broadcast/receiver.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/broadcast/chunk_server.h"
#include "lib/broadcast/chunk_store.h"
#include "lib/broadcast/manifest.h"
#include "lib/broadcast/wall_clock.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/transport/xxh3.h"
#include "r1rl/v1/broadcast.grpc.pb.h"

namespace r1rl::broadcast {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

struct Receiver::State {
  ReceiverOptions options;
  zmq::context_t context{1};
  std::unique_ptr<transport::ZapHandler> zap;  // CurveZMQ: worker keys only; outlives sockets
  transport::CurveKeys to_root, to_relay;      // dealer keys for the service / another worker
  ChunkStore store;
  std::unique_ptr<ChunkServer> server;
  std::unique_ptr<v1::ParamBroadcast::Stub> stub;
  std::atomic<bool> stop{false};

  mutable std::mutex mu;
  std::condition_variable cv;
  std::string id;
  bool joined = false;
  v1::Peer parent;
  uint64_t parent_generation = 0;
  std::shared_ptr<const v1::Manifest> target;  // the newest announced
  std::unordered_set<std::string> target_hashes;
  std::unordered_set<std::string> dropped;  // relayed and dropped (max_held_chunks)
  int64_t held_version = -1;
  int64_t fetching_version = -1;
  int chunks_done = 0;
  std::optional<ReceivedVersion> ready;
  std::optional<v1::CollectiveAssignment> assignment;  // from the last Sync
  uint64_t news = 0;              // changes to `target` or `assignment` (WaitForNews)
  int64_t collective_failed = 0;  // the last generation that failed here (0: none)
  grpc::ClientContext* sync_in_flight = nullptr;  // the long poll in progress
  Clock::time_point last_sync_ok{};
  int sync_wait_ms = 2000;
  int relay_timeout_ms = 2000;
  int window = 4;

  std::atomic<int64_t> bytes_received{0}, chunks_skipped{0}, hash_failures{0}, reparents{0},
      versions_skipped{0};

  std::thread sync_thread, fetch_thread;

  v1::ReceiverCounters Counters() const {
    v1::ReceiverCounters c;
    c.set_bytes_received(bytes_received);
    c.set_bytes_sent(server ? server->bytes_sent() : 0);
    c.set_chunks_skipped(chunks_skipped);
    c.set_hash_failures(hash_failures);
    c.set_reparents(reparents);
    c.set_versions_skipped(versions_skipped);
    return c;
  }

  // Chunks asked of this relay that it is fetching now, or of a version it has not heard of
  // yet (its manifest is on the way): the request waits here.
  bool OnItsWay(const std::string& hash, int64_t version) {
    std::lock_guard<std::mutex> lock(mu);
    if (target && target->version() != held_version && target_hashes.count(hash))
      return !dropped.count(hash);
    return version != held_version && (!target || version != target->version());
  }

  bool Join() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::JoinRequest req;
    {
      std::lock_guard<std::mutex> lock(mu);
      req.set_receiver_id(id.empty() ? options.receiver_id : id);
      req.set_held_version(held_version);
    }
    req.set_chunk_endpoint(server->endpoint());
    req.set_collective(options.collective);
    v1::JoinResponse resp;
    grpc::Status s = stub->Join(&ctx, req, &resp);
    if (!s.ok()) {
      spdlog::debug("broadcast receiver: join {}: {}", options.service, s.error_message());
      return false;
    }
    std::lock_guard<std::mutex> lock(mu);
    id = resp.receiver_id();
    joined = true;
    last_sync_ok = Clock::now();
    parent = resp.parent();
    ++parent_generation;
    if (resp.sync_wait_ms() > 0) sync_wait_ms = resp.sync_wait_ms();
    if (resp.relay_timeout_ms() > 0) relay_timeout_ms = resp.relay_timeout_ms();
    if (resp.window() > 0) window = resp.window();
    spdlog::info("broadcast receiver {}: joined {}; parent {} ({})", id, options.service,
                 parent.id(), parent.endpoint());
    cv.notify_all();
    return true;
  }

  // One Sync; `wait_ms` 0 reports progress at once.
  void SyncOnce(int wait_ms) {
    v1::SyncRequest req;
    {
      std::lock_guard<std::mutex> lock(mu);
      req.set_receiver_id(id);
      req.set_held_version(held_version);
      req.set_fetching_version(fetching_version);
      req.set_chunks_done(chunks_done);
      req.set_parent_id(parent.id());
      if (assignment) {
        req.set_collective_generation(assignment->generation());
        req.set_collective_rendezvous(!assignment->rendezvous().empty());
      }
      req.set_collective_failed(collective_failed);
    }
    req.set_wait_ms(wait_ms);
    *req.mutable_counters() = Counters();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms) +
                     std::chrono::seconds(5));
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
      if (wait_ms > 0) sync_in_flight = &ctx;  // Stop() cancels a long poll
    }
    v1::SyncResponse resp;
    grpc::Status s = stub->Sync(&ctx, req, &resp);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (sync_in_flight == &ctx) sync_in_flight = nullptr;
    }
    if (!s.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    last_sync_ok = Clock::now();
    if (resp.rejoin()) {
      joined = false;
      return;
    }
    if (resp.has_manifest()) {
      if (auto st = ValidateManifest(resp.manifest(), options.max_model_bytes); !st.ok()) {
        spdlog::warn("broadcast receiver {}: {}; keeping version {}", id, std::string(st.message()),
                     held_version);
      } else if (resp.manifest().version() != held_version &&
                 (!target || resp.manifest().version() != target->version())) {
        target = std::make_shared<const v1::Manifest>(resp.manifest());
        target_hashes.clear();
        dropped.clear();
        for (const v1::ChunkEntry& c : target->chunks()) target_hashes.insert(c.hash());
        ++news;
        cv.notify_all();
        if (server) server->Arrived();  // parked requests for this version: look again
      }
    }
    if (resp.has_parent() &&
        (resp.parent().id() != parent.id() || resp.parent().endpoint() != parent.endpoint())) {
      parent = resp.parent();
      ++parent_generation;
      cv.notify_all();
    }
    std::optional<v1::CollectiveAssignment> a;
    if (resp.has_collective()) a = resp.collective();
    if (a.has_value() != assignment.has_value() ||
        (a && a->SerializeAsString() != assignment->SerializeAsString())) {
      assignment = std::move(a);
      ++news;
      cv.notify_all();
    }
  }

  // Versions come through the collective group now: no relay parent to fetch from.
  bool InCollectiveLocked() const { return parent.id() == "collective"; }

  void SyncLoop() {
    while (!stop) {
      bool need_join;
      int wait;
      {
        std::lock_guard<std::mutex> lock(mu);
        need_join = !joined;
        wait = fetching_version >= 0 ? options.progress_ms : sync_wait_ms;
      }
      if (need_join) {
        if (!Join()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      SyncOnce(wait);
    }
  }

  // Asks the service for a new parent after `reason`; the fetch reconnects on the next turn.
  void Reparent(const std::string& reason, int64_t version, int chunk) {
    v1::ReparentRequest req;
    {
      std::lock_guard<std::mutex> lock(mu);
      req.set_receiver_id(id);
      req.set_parent_id(parent.id());
    }
    req.set_reason(reason);
    req.set_version(version);
    req.set_chunk(chunk);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ReparentResponse resp;
    grpc::Status s = stub->Reparent(&ctx, req, &resp);
    ++reparents;
    if (!s.ok()) {
      spdlog::warn("broadcast receiver {}: reparent: {}", req.receiver_id(), s.error_message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (resp.rejoin()) joined = false;
    spdlog::info("broadcast receiver {}: parent {} failed ({}, version {} chunk {}); now {}", id,
                 req.parent_id(), reason, version, chunk, resp.parent().id());
    if (resp.has_parent()) parent = resp.parent();
    ++parent_generation;  // reconnect even to the same parent: a fresh socket, a new epoch
  }

  enum class Outcome { kDone, kSuperseded, kStopped };

  Outcome FetchVersion(const v1::Manifest& m) {
    const auto start = Clock::now();
    const int n = m.chunks_size();
    std::vector<char> have(static_cast<size_t>(n), 0);
    std::deque<int> todo;
    int done = 0;
    for (int i = 0; i < n; ++i) {
      if (store.Has(m.chunks(i).hash())) {
        have[static_cast<size_t>(i)] = 1;
        ++done;
      } else {
        todo.push_back(i);
      }
    }
    const int skipped = done;
    chunks_skipped += skipped;
    {
      std::lock_guard<std::mutex> lock(mu);
      fetching_version = m.version();
      chunks_done = done;
    }
    std::unique_ptr<zmq::socket_t> dealer;
    uint64_t connected_generation = ~uint64_t{0};
    int64_t epoch = 0;
    std::map<int, Clock::time_point> inflight;
    v1::Peer parent_now;
    std::vector<int> failures(static_cast<size_t>(n), 0);
    std::deque<std::string> held_order;  // for max_held_chunks
    const bool bounded = !options.keep_bytes && options.max_held_chunks > 0;
    auto last_reply = Clock::now(), last_chunk = Clock::now();
    while (done < n) {
      if (stop) return Outcome::kStopped;
      int window_now, timeout_ms;
      std::string my_id;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (target && target->version() != m.version()) {
          ++versions_skipped;
          return Outcome::kSuperseded;
        }
        if (InCollectiveLocked()) {  // it comes through the group
          fetching_version = -1;
          chunks_done = 0;
          return Outcome::kSuperseded;
        }
        window_now = window;
        timeout_ms = relay_timeout_ms;
        my_id = id;
        if (parent_generation != connected_generation) {
          connected_generation = parent_generation;
          parent_now = parent;
          dealer.reset();
        }
      }
      if (!dealer) {  // (re)connect: requests in flight go again, in order, to the new parent
        dealer = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
        dealer->set(zmq::sockopt::linger, 0);
        dealer->set(zmq::sockopt::maxmsgsize,
                    static_cast<int64_t>(m.chunk_bytes()) + int64_t{4096});
        // CurveZMQ: the chain's root is the service (its own key), every other parent a worker.
        transport::SetCurve(*dealer, parent_now.id() == "root" ? to_root : to_relay,
                            /*bind=*/false);
        try {
          dealer->connect(parent_now.endpoint());
        } catch (const zmq::error_t& e) {
          spdlog::warn("broadcast receiver {}: parent endpoint \"{}\": {}", my_id,
                       parent_now.endpoint(), e.what());
          dealer.reset();
          Reparent("bad_endpoint", m.version(), todo.empty() ? n : todo.front());
          continue;
        }
        ++epoch;
        for (auto it = inflight.rbegin(); it != inflight.rend(); ++it) todo.push_front(it->first);
        inflight.clear();
        last_reply = last_chunk = Clock::now();
      }
      while (static_cast<int>(inflight.size()) < window_now && !todo.empty()) {
        const int i = todo.front();
        todo.pop_front();
        v1::ChunkRequest req;
        req.set_version(m.version());
        req.set_index(i);
        req.set_hash(m.chunks(i).hash());
        req.set_epoch(epoch);
        req.set_requester_id(my_id);
        (void)dealer->send(zmq::buffer(req.SerializeAsString()), zmq::send_flags::dontwait);
        inflight[i] = Clock::now();
      }
      zmq::pollitem_t items[] = {{dealer->handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(50));
      std::string reparent_reason;
      int reparent_chunk = -1;
      zmq::message_t header;
      while (reparent_reason.empty() && dealer->recv(header, zmq::recv_flags::dontwait)) {
        zmq::message_t data;
        const bool has_data = header.more();
        if (has_data) (void)dealer->recv(data, zmq::recv_flags::none);
        v1::ChunkReply r;
        if (!r.ParseFromArray(header.data(), static_cast<int>(header.size())) ||
            r.epoch() != epoch || r.version() != m.version() || !inflight.count(r.index()))
          continue;  // a reply to a request given up on (old socket, old version)
        last_reply = Clock::now();
        const int i = r.index();
        switch (r.status()) {
          case v1::ChunkReply::OK: {
            inflight.erase(i);
            const v1::ChunkEntry& e = m.chunks(i);
            std::string_view got(static_cast<const char*>(data.data()), data.size());
            if (!has_data || static_cast<int64_t>(got.size()) != e.size() ||
                transport::Xxh128(got) != e.hash()) {
              ++hash_failures;
              spdlog::warn("broadcast receiver {}: version {} chunk {} from {} failed its hash",
                           my_id, m.version(), i, parent_now.id());
              todo.push_front(i);
              if (++failures[static_cast<size_t>(i)] >= 2) {
                failures[static_cast<size_t>(i)] = 0;
                reparent_reason = "corrupt";
                reparent_chunk = i;
              }
              break;
            }
            store.Put(e.hash(), std::make_shared<const std::string>(got));
            server->Arrived();
            if (bounded) {
              held_order.push_back(e.hash());
              if (static_cast<int>(held_order.size()) > options.max_held_chunks) {
                std::lock_guard<std::mutex> lock(mu);
                dropped.insert(held_order.front());
                store.Erase(held_order.front());
                held_order.pop_front();
              }
            }
            have[static_cast<size_t>(i)] = 1;
            ++done;
            bytes_received += e.size();
            last_chunk = last_reply;
            std::lock_guard<std::mutex> lock(mu);
            chunks_done = done;
            break;
          }
          case v1::ChunkReply::PENDING:
            break;
          default:  // NOT_HELD, BAD_REQUEST
            reparent_reason = r.status() == v1::ChunkReply::NOT_HELD ? "not_held" : "bad_request";
            reparent_chunk = i;
            break;
        }
      }
      const auto now = Clock::now();
      if (reparent_reason.empty() && !inflight.empty() &&
          now - last_reply > std::chrono::milliseconds(timeout_ms)) {
        reparent_reason = "timeout";
        reparent_chunk = inflight.begin()->first;
      }
      if (reparent_reason.empty() && now - last_chunk > std::chrono::milliseconds(5 * timeout_ms)) {
        reparent_reason = "stalled";  // answers, but nothing arrives
        reparent_chunk =
            todo.empty() ? (inflight.empty() ? n : inflight.begin()->first) : todo.front();
      }
      if (!reparent_reason.empty()) Reparent(reparent_reason, m.version(), reparent_chunk);
    }
    ReceivedVersion v;
    v.version = m.version();
    v.published_unix_ms = m.published_unix_ms();
    v.chunks_fetched = n - skipped;
    v.chunks_skipped = skipped;
    if (options.keep_bytes) {  // (with keep_bytes every chunk is still held)
      v.bytes.reserve(static_cast<size_t>(m.total_bytes()));
      for (const v1::ChunkEntry& e : m.chunks()) v.bytes += *store.Get(e.hash());
    }
    v.verified_unix_ms = UnixMillis();
    v.fetch_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::unordered_set<std::string> keep;
    {
      std::lock_guard<std::mutex> lock(mu);
      held_version = m.version();
      fetching_version = -1;
      chunks_done = 0;
      for (const v1::ChunkEntry& e : m.chunks()) keep.insert(e.hash());
      if (target && target->version() != m.version())
        keep.insert(target_hashes.begin(), target_hashes.end());
      spdlog::info(
          "broadcast receiver {}: version {} verified ({} chunks fetched, {} held already, {:.3f} "
          "s)",
          id, v.version, v.chunks_fetched, v.chunks_skipped, v.fetch_seconds);
      ready = std::move(v);
      cv.notify_all();
    }
    store.RetainOnly(keep);
    return Outcome::kDone;
  }

  void FetchLoop() {
    while (!stop) {
      std::shared_ptr<const v1::Manifest> m;
      {
        std::unique_lock<std::mutex> lock(mu);
        auto work = [&] {
          return joined && target && target->version() != held_version && !InCollectiveLocked();
        };
        cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop || work(); });
        if (stop) return;
        if (work()) m = target;
      }
      if (!m) continue;
      if (FetchVersion(*m) == Outcome::kDone) SyncOnce(0);  // tell the service at once
    }
  }
};

Receiver::Receiver(std::unique_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<Receiver>> Receiver::Start(ReceiverOptions options) {
  if (options.service.empty()) return absl::InvalidArgumentError("broadcast.address is empty");
  auto channel = security::OpenChannel(options.service, options.security, security::Role::kWorker);
  if (!channel.ok()) return channel.status();
  auto s = std::make_unique<State>();
  s->options = std::move(options);
  ChunkServer::Options so;
  so.bind = s->options.bind;
  so.advertise_host = s->options.advertise_host;
  so.field = "worker.relay_address";
  {
    auto zap = security::StartZap(s->context, s->options.security, {{"chunks", "worker"}}, nullptr);
    if (!zap.ok()) return zap.status();
    s->zap = std::move(*zap);
    auto server = security::CurveServer(s->options.security, "worker", "chunks");
    if (!server.ok()) return server.status();
    so.curve = *server;
    auto to_root = security::CurveClient(s->options.security, "worker", "broadcast");
    if (!to_root.ok()) return to_root.status();
    s->to_root = *to_root;
    auto to_relay = security::CurveClient(s->options.security, "worker", "worker");
    if (!to_relay.ok()) return to_relay.status();
    s->to_relay = *to_relay;
  }
  State* raw = s.get();
  auto server =
      ChunkServer::Start(s->context, so, &s->store,
                         [raw](const std::string& h, int64_t v) { return raw->OnItsWay(h, v); });
  if (!server.ok()) return server.status();
  s->server = std::move(*server);
  s->stub = v1::ParamBroadcast::NewStub(*channel);
  s->sync_thread = std::thread([raw] { raw->SyncLoop(); });
  s->fetch_thread = std::thread([raw] { raw->FetchLoop(); });
  return std::unique_ptr<Receiver>(new Receiver(std::move(s)));
}

Receiver::~Receiver() { Stop(); }

void Receiver::Stop() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
    if (state_->sync_in_flight) state_->sync_in_flight->TryCancel();
  }
  state_->cv.notify_all();
  if (state_->sync_thread.joinable()) state_->sync_thread.join();
  if (state_->fetch_thread.joinable()) state_->fetch_thread.join();
  if (state_->server) state_->server->Stop();
}

std::optional<ReceivedVersion> Receiver::WaitFor(int64_t version,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  auto fits = [&] {
    const auto& r = state_->ready;
    return r &&
           AnswersRequest(r->version, version, state_->target ? state_->target->version() : -1);
  };
  state_->cv.wait_for(lock, timeout, [&] { return state_->stop || fits(); });
  if (!fits()) return std::nullopt;
  std::optional<ReceivedVersion> out = std::move(state_->ready);
  state_->ready.reset();
  return out;
}

std::optional<v1::CollectiveAssignment> Receiver::collective() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->assignment;
}

std::shared_ptr<const v1::Manifest> Receiver::announced() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->target;
}

uint64_t Receiver::WaitForNews(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->stop || state_->news != seen; });
  return state_->news;
}

void Receiver::HeldThroughCollective(int64_t version) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->held_version = version;
  if (state_->fetching_version == version) state_->fetching_version = -1;
  spdlog::info("broadcast receiver {}: version {} came through the collective group", state_->id,
               version);
  // Report it now: the long poll in flight still carries the version held before.
  if (state_->sync_in_flight) state_->sync_in_flight->TryCancel();
  state_->cv.notify_all();
}

void Receiver::CollectiveFailed(int64_t generation) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->collective_failed = generation;
  if (state_->sync_in_flight) state_->sync_in_flight->TryCancel();  // report it now
}

bool Receiver::connected() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->joined && Clock::now() - state_->last_sync_ok <
                               std::chrono::milliseconds(2 * state_->sync_wait_ms + 5000);
}

int64_t Receiver::announced_version() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->target ? state_->target->version() : -1;
}

int64_t Receiver::held_version() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->held_version;
}

v1::ReceiverCounters Receiver::counters() const { return state_->Counters(); }

std::string Receiver::id() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->id;
}

std::string Receiver::endpoint() const { return state_->server->endpoint(); }

}  // namespace r1rl::broadcast
