#include "lib/broadcast/chunk_server.h"

#include <unistd.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/transport/host_name.h"
#include "lib/transport/xxh3.h"
#include "lib/transport/zmq_pipe.h"
#include "r1rl/v1/broadcast.pb.h"

namespace r1rl::broadcast {
namespace {

using Clock = std::chrono::steady_clock;

struct Parked {
  std::string identity;
  v1::ChunkRequest request;
  Clock::time_point keepalive_at;
};

std::string PortOf(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':') + 1); }

}  // namespace

ChunkServer::ChunkServer(zmq::context_t& context, const ChunkStore* store, OnItsWay on_its_way,
                         OnSent on_sent, int park_ms)
    : context_(context),
      store_(store),
      on_its_way_(std::move(on_its_way)),
      on_sent_(std::move(on_sent)),
      park_ms_(park_ms) {}

absl::StatusOr<std::unique_ptr<ChunkServer>> ChunkServer::Start(zmq::context_t& context,
                                                                const Options& options,
                                                                const ChunkStore* store,
                                                                OnItsWay on_its_way,
                                                                OnSent on_sent) {
  std::unique_ptr<ChunkServer> s(new ChunkServer(
      context, store, std::move(on_its_way), std::move(on_sent), std::max(10, options.park_ms)));
  auto router =
      transport::OpenSocket(context, zmq::socket_type::router,
                            {options.bind, /*bind=*/true, 100, 0, 0, options.curve}, options.field);
  if (!router.ok()) return router.status();
  s->router_ = std::move(*router);
  s->router_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.max_request_bytes));
  const std::string wake =
      absl::StrCat("inproc://chunk-server-", reinterpret_cast<uintptr_t>(s.get()));
  s->wake_in_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pull);
  s->wake_in_->bind(wake);
  s->wake_out_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::push);
  s->wake_out_->set(zmq::sockopt::linger, 0);
  s->wake_out_->connect(wake);
  const std::string host =
      options.advertise_host.empty() ? transport::HostName() : options.advertise_host;
  s->endpoint_ = absl::StrCat("tcp://", host, ":", PortOf(transport::BoundEndpoint(*s->router_)));
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

ChunkServer::~ChunkServer() { Stop(); }

void ChunkServer::Stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void ChunkServer::Arrived() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (wake_out_) (void)wake_out_->send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
}

void ChunkServer::Loop() {
  std::vector<Parked> parked;
  auto reply = [&](const std::string& identity, const v1::ChunkRequest& req,
                   v1::ChunkReply::Status status, ChunkStore::Chunk chunk, std::string detail) {
    v1::ChunkReply r;
    r.set_status(status);
    r.set_version(req.version());
    r.set_index(req.index());
    r.set_epoch(req.epoch());
    r.set_detail(std::move(detail));
    const std::string header = r.SerializeAsString();
    try {
      router_->send(zmq::buffer(identity), zmq::send_flags::sndmore);
      if (!chunk) {
        router_->send(zmq::buffer(header), zmq::send_flags::none);
        return;
      }
      router_->send(zmq::buffer(header), zmq::send_flags::sndmore);
      const int64_t size = static_cast<int64_t>(chunk->size());
      auto* hold = new ChunkStore::Chunk(std::move(chunk));
      zmq::message_t data(
          const_cast<char*>((*hold)->data()), (*hold)->size(),
          [](void*, void* hint) { delete static_cast<ChunkStore::Chunk*>(hint); }, hold);
      router_->send(data, zmq::send_flags::none);
      bytes_sent_ += size;
      if (on_sent_) on_sent_(req.version(), size);
    } catch (const zmq::error_t&) {
      // The peer is gone or the context is closing: nothing to answer.
    }
  };
  // Answers `req` now (held, or not coming) or reports that it must wait.
  auto try_answer = [&](const std::string& identity, const v1::ChunkRequest& req) {
    if (ChunkStore::Chunk c = store_->Get(req.hash())) {
      reply(identity, req, v1::ChunkReply::OK, std::move(c), "");
      return true;
    }
    if (on_its_way_ && on_its_way_(req.hash(), req.version())) return false;
    reply(identity, req, v1::ChunkReply::NOT_HELD, nullptr,
          absl::StrCat("version ", req.version(), " chunk ", req.index(), " is not held here"));
    return true;
  };
  while (running_) {
    auto timeout = std::chrono::milliseconds(100);
    const auto now = Clock::now();
    for (const Parked& p : parked) {
      timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::max(Clock::duration::zero(), p.keepalive_at - now)));
    }
    zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0},
                               {wake_in_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, timeout);
    } catch (const zmq::error_t&) {
      break;
    }
    bool recheck = false;
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_in_->recv(m, zmq::recv_flags::dontwait)) {
      }
      recheck = true;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t identity, body;
      while (router_->recv(identity, zmq::recv_flags::dontwait)) {
        if (!identity.more()) continue;
        (void)router_->recv(body, zmq::recv_flags::none);
        while (body.more()) {  // extra frames: not ours
          zmq::message_t extra;
          (void)router_->recv(extra, zmq::recv_flags::none);
          if (!extra.more()) break;
        }
        v1::ChunkRequest req;
        const std::string id = identity.to_string();
        if (!req.ParseFromArray(body.data(), static_cast<int>(body.size())) ||
            req.hash().size() != transport::kXxh128Bytes || req.index() < 0) {
          ++bad_requests_;
          reply(id, req, v1::ChunkReply::BAD_REQUEST, nullptr,
                "a ChunkRequest with a 16-byte hash and index >= 0 was expected");
          continue;
        }
        if (!try_answer(id, req))
          parked.push_back({id, req, Clock::now() + std::chrono::milliseconds(park_ms_)});
      }
    }
    const auto after = Clock::now();
    for (auto it = parked.begin(); it != parked.end();) {
      const bool due = it->keepalive_at <= after;
      if ((recheck || due) && try_answer(it->identity, it->request)) {
        it = parked.erase(it);
        continue;
      }
      if (due) {
        reply(it->identity, it->request, v1::ChunkReply::PENDING, nullptr, "");
        it->keepalive_at = after + std::chrono::milliseconds(park_ms_);
      }
      ++it;
    }
  }
  std::lock_guard<std::mutex> lock(wake_mu_);
  wake_out_.reset();
  wake_in_.reset();
  router_.reset();
}

}  // namespace r1rl::broadcast
