// The ZeroMQ data plane's sockets and loops, in one place: every service opens its PUSH/PULL
// sockets with OpenSocket and moves messages with Pump (a receive loop on a thread of its
// own) and SendBlocking (a send that waits for a peer). The controller's ingest and
// forwarding, the grader's input and output and the rollout worker's output use them.
//
//   ASSIGN_OR_RETURN(auto in, OpenSocket(ctx, zmq::socket_type::pull,
//                                        {"tcp://127.0.0.1:5557", /*bind=*/true},
//                                        "learner.ingest_address"));
//   Pump pump(*in, [&](zmq::message_t& m) { Handle(m); });   // receives until Stop()
//   ...
//   pump.Stop();                                              // joins the thread
//
// Thread-safety: a socket is used by one thread at a time (ZeroMQ's rule): the pump's, or
// the caller's for SendBlocking.
#ifndef R1RL_LIB_TRANSPORT_ZMQ_PIPE_H_
#define R1RL_LIB_TRANSPORT_ZMQ_PIPE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <zmq.hpp>

#include "absl/status/statusor.h"

namespace r1rl::transport {

// CurveZMQ on a socket (keys are Z85 text, 40 characters). Empty `secret_key`: plain text.
// A binding socket is the CURVE server: it authenticates clients through the ZAP handler of
// its context (zap_handler.h) under `zap_domain`; a connecting one is a client of the server
// whose public key is `server_key`.
struct CurveKeys {
  std::string public_key, secret_key;  // this socket's own key pair
  std::string server_key;              // connecting: the server's public key
  std::string zap_domain;              // binding: the allow-list its clients are checked against
  bool enabled() const { return !secret_key.empty(); }
};

struct SocketOptions {
  std::string address;   // tcp://host:port (port 0 with bind: any free port)
  bool bind = false;     // bind (a stable endpoint) or connect to one
  int timeout_ms = 100;  // receive and send timeout: how often loops look at their stop flag
  int hwm = 0;           // high-water mark for both directions (0: ZeroMQ's default)
  int linger_ms = 0;     // how long close() keeps sending what is queued
  CurveKeys curve{};     // CurveZMQ (none: plain text)
};

// Sets `keys` on a socket before it binds (`bind`: the CURVE server, checked under its ZAP
// domain) or connects (a client of keys.server_key); nothing when !keys.enabled().
void SetCurve(zmq::socket_t& socket, const CurveKeys& keys, bool bind);

// A socket of `type` bound to or connected to options.address. InvalidArgument naming
// `field` (the config key) and the address when ZeroMQ refuses it.
absl::StatusOr<std::unique_ptr<zmq::socket_t>> OpenSocket(zmq::context_t& context,
                                                          zmq::socket_type type,
                                                          const SocketOptions& options,
                                                          const std::string& field);

// The endpoint a socket is bound to (its real port when bound to port 0).
std::string BoundEndpoint(zmq::socket_t& socket);

// Sends `bytes`, retrying across send timeouts (no peer connected yet, or its queue full)
// while `keep_going()`; false when it gave up or the context is terminating.
bool SendBlocking(zmq::socket_t& socket, std::string_view bytes,
                  const std::function<bool()>& keep_going);

// A receive loop on a thread of its own: each message to `handle`, until Stop(). With
// `drain`, Stop() lets it take what has already reached the socket until the input is
// quiet for one receive timeout (the grader grades what its peers sent it).
class Pump {
 public:
  using Handler = std::function<void(zmq::message_t& message)>;
  Pump(zmq::socket_t& socket, Handler handle, bool drain = false);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  void Stop();  // idempotent; joins the thread
  int64_t received() const { return received_; }

 private:
  void Loop();

  zmq::socket_t& socket_;
  Handler handle_;
  bool drain_;
  std::atomic<bool> running_{true};
  std::atomic<int64_t> received_{0};
  std::thread thread_;
};

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_ZMQ_PIPE_H_
