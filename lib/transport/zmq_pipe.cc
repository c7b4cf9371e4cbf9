#include "lib/transport/zmq_pipe.h"

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace r1rl::transport {

void SetCurve(zmq::socket_t& socket, const CurveKeys& keys, bool bind) {
  if (!keys.enabled()) return;
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  if (bind) {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::zap_domain, keys.zap_domain);
  } else {
    socket.set(zmq::sockopt::curve_serverkey, keys.server_key);
  }
}

absl::StatusOr<std::unique_ptr<zmq::socket_t>> OpenSocket(zmq::context_t& context,
                                                          zmq::socket_type type,
                                                          const SocketOptions& o,
                                                          const std::string& field) {
  try {
    auto s = std::make_unique<zmq::socket_t>(context, type);
    s->set(zmq::sockopt::rcvtimeo, o.timeout_ms);
    s->set(zmq::sockopt::sndtimeo, o.timeout_ms);
    s->set(zmq::sockopt::linger, o.linger_ms);
    if (o.hwm > 0) {
      s->set(zmq::sockopt::rcvhwm, o.hwm);
      s->set(zmq::sockopt::sndhwm, o.hwm);
    }
    SetCurve(*s, o.curve, o.bind);
    if (o.bind) {
      s->bind(o.address);
    } else {
      s->connect(o.address);
    }
    return s;
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(absl::StrCat(field, " = ", o.address, ": ", e.what()));
  }
}

std::string BoundEndpoint(zmq::socket_t& socket) { return socket.get(zmq::sockopt::last_endpoint); }

bool SendBlocking(zmq::socket_t& socket, std::string_view bytes,
                  const std::function<bool()>& keep_going) {
  do {
    try {
      if (socket.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::none)) {
        return true;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return false;
    }
  } while (keep_going());
  return false;
}

Pump::Pump(zmq::socket_t& socket, Handler handle, bool drain)
    : socket_(socket), handle_(std::move(handle)), drain_(drain) {
  thread_ = std::thread([this] { Loop(); });
}

Pump::~Pump() { Stop(); }

void Pump::Stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void Pump::Loop() {
  while (running_ || drain_) {
    zmq::message_t msg;
    zmq::recv_result_t got;
    try {
      got = socket_.recv(msg, zmq::recv_flags::none);  // the receive timeout bounds the wait
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      continue;
    }
    if (!got) {
      if (!running_) break;  // stopped, and the input is quiet
      continue;
    }
    ++received_;
    handle_(msg);
  }
}

}  // namespace r1rl::transport
