#include "lib/transport/zap_handler.h"

#include <zmq.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace r1rl::transport {

std::string Z85Key(const void* bytes32) {
  char text[41] = {0};
  zmq_z85_encode(text, static_cast<const uint8_t*>(bytes32), 32);
  return text;
}

absl::StatusOr<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                              AllowLists allow,
                                                              OnRefused on_refused) {
  std::unique_ptr<ZapHandler> h(new ZapHandler());
  try {
    h->socket_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
    h->socket_->set(zmq::sockopt::linger, 0);
    h->socket_->set(zmq::sockopt::rcvtimeo, 100);
    h->socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("ZAP handler: ", e.what()));
  }
  h->allow_ = std::move(allow);
  h->on_refused_ = std::move(on_refused);
  ZapHandler* self = h.get();
  h->thread_ = std::thread([self] { self->Loop(); });
  return h;
}

ZapHandler::~ZapHandler() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

// A request: version "1.0", request id, domain, address, routing id, mechanism, then the
// mechanism's credentials (CURVE: the client's 32-byte public key). The reply: version,
// request id, status code, status text, user id, metadata.
void ZapHandler::Loop() {
  while (running_) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t frame;
      if (!socket_->recv(frame)) continue;  // timeout: look at running_
      frames.push_back(std::move(frame));
      while (frames.back().more()) {
        zmq::message_t next;
        if (!socket_->recv(next)) break;
        frames.push_back(std::move(next));
      }
    } catch (const zmq::error_t&) {
      return;  // the context is terminating
    }
    // (Only libzmq writes here; a short request is still answered, refused, as REP must.)
    auto frame = [&](size_t i) { return i < frames.size() ? frames[i].to_string() : ""; };
    const std::string request_id = frame(1), domain = frame(2), address = frame(3);
    const std::string mechanism = frame(5);
    bool ok = false;
    std::string user;
    if (mechanism == "CURVE" && frames.size() >= 7 && frames[6].size() == 32) {
      const std::string key = Z85Key(frames[6].data());
      auto it = allow_.find(domain);
      ok = it != allow_.end() && it->second.count(key) > 0;
      user = key;
    }
    if (!ok && on_refused_) on_refused_(domain, address);
    try {
      socket_->send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket_->send(ok ? zmq::str_buffer("200") : zmq::str_buffer("400"), zmq::send_flags::sndmore);
      socket_->send(ok ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"),
                    zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(user), zmq::send_flags::sndmore);
      socket_->send(zmq::message_t(), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

}  // namespace r1rl::transport
