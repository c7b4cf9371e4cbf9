// The ZeroMQ Authentication Protocol (ZAP, RFC 27) handler of one context: every CURVE server
// socket of the context asks it whether a client's public key may connect, under the socket's
// ZAP domain. Each domain has an allow-list of client public keys (Z85); a key not on its
// domain's list is refused (the client's messages never reach the socket) and counted.
//
//   ASSIGN_OR_RETURN(auto zap, ZapHandler::Start(ctx, {{"ingest", {grader_pub}}}, on_refused));
//   // then OpenSocket(ctx, pull, {..., .curve = {pub, secret, "", "ingest"}}, ...)
//
// Start it before the sockets that need it bind, and keep it until they are closed (libzmq
// refuses every CURVE client of a context that has no handler).
#ifndef R1RL_LIB_TRANSPORT_ZAP_HANDLER_H_
#define R1RL_LIB_TRANSPORT_ZAP_HANDLER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "absl/status/statusor.h"

namespace r1rl::transport {

class ZapHandler {
 public:
  using AllowLists = std::map<std::string, std::set<std::string>>;  // domain -> Z85 keys
  // Called (on the handler's thread) for each refused connection: its domain and peer address.
  using OnRefused = std::function<void(const std::string& domain, const std::string& address)>;

  // Internal when the context already has a ZAP handler.
  static absl::StatusOr<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                           AllowLists allow, OnRefused on_refused);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  ZapHandler() = default;
  void Loop();
  std::unique_ptr<zmq::socket_t> socket_;
  AllowLists allow_;
  OnRefused on_refused_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// Z85 text of a 32-byte binary key (as ZAP hands it over).
std::string Z85Key(const void* bytes32);

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_ZAP_HANDLER_H_
