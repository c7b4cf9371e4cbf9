// Serves chunks from a ChunkStore on a ZeroMQ ROUTER socket: the data plane of the
// broadcast. Every holder runs one: the service (root of every chain) and each receiver
// (which relays to its child). A request names a chunk by version, index and hash; the
// answer is the chunk when held, or, when `on_its_way(hash, version)` says the chunk is being
// fetched here, the request is parked and answered the moment it arrives (Arrived()), so a
// relay forwards chunk i while it fetches chunk i+1. A parked request gets a PENDING
// keep-alive every park_ms; a chunk neither held nor on its way gets NOT_HELD at once.
//
//   ASSIGN_OR_RETURN(auto server, ChunkServer::Start(ctx, options, &store, on_its_way));
//   store.Put(h, chunk); server->Arrived();
//   server->endpoint();   // tcp://<advertise_host>:<port>, what a child connects to
//
// Thread-safety: Arrived() and the accessors may be called from any thread.
#ifndef R1RL_LIB_BROADCAST_CHUNK_SERVER_H_
#define R1RL_LIB_BROADCAST_CHUNK_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "lib/broadcast/chunk_store.h"
#include "lib/transport/zmq_pipe.h"

namespace r1rl::broadcast {

class ChunkServer {
 public:
  struct Options {
    std::string bind = "tcp://127.0.0.1:0";  // port 0: any free port
    std::string advertise_host;              // "" = this host's name
    std::string field = "chunk_address";     // the config key, for errors
    int park_ms = 500;                       // keep-alive period of a parked request
    int max_request_bytes = 4096;            // a larger request closes its connection
    transport::CurveKeys curve;              // CurveZMQ server keys + ZAP domain (none: plain)
  };
  using OnItsWay = std::function<bool(const std::string& hash, int64_t version)>;
  // Called after each chunk sent: (version asked for, bytes).
  using OnSent = std::function<void(int64_t version, int64_t bytes)>;

  static absl::StatusOr<std::unique_ptr<ChunkServer>> Start(zmq::context_t& context,
                                                            const Options& options,
                                                            const ChunkStore* store,
                                                            OnItsWay on_its_way,
                                                            OnSent on_sent = {});
  ~ChunkServer();
  ChunkServer(const ChunkServer&) = delete;
  ChunkServer& operator=(const ChunkServer&) = delete;

  void Arrived();  // a chunk was added to the store: answer the requests parked for it
  void Stop();     // idempotent

  const std::string& endpoint() const { return endpoint_; }
  int64_t bytes_sent() const { return bytes_sent_; }
  int64_t bad_requests() const { return bad_requests_; }

 private:
  ChunkServer(zmq::context_t& context, const ChunkStore* store, OnItsWay on_its_way, OnSent on_sent,
              int park_ms);
  void Loop();

  zmq::context_t& context_;
  const ChunkStore* store_;
  OnItsWay on_its_way_;
  OnSent on_sent_;
  int park_ms_;
  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<zmq::socket_t> wake_in_;
  std::mutex wake_mu_;
  std::unique_ptr<zmq::socket_t> wake_out_;  // under wake_mu_
  std::string endpoint_;
  std::atomic<bool> running_{true};
  std::atomic<int64_t> bytes_sent_{0}, bad_requests_{0};
  std::thread thread_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_CHUNK_SERVER_H_
