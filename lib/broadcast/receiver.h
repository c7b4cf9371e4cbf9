// The receiving end of the parameter broadcast, run inside each rollout worker: it joins the
// r1rl-param-broadcast service, learns each new version's manifest (Sync, a long poll), fetches
// the chunks it does not hold from its parent in its relay chain (ZeroMQ, a window of requests
// in flight), checks each chunk's XXH3-128 while the next is in flight, and serves what it
// holds to its own child (it is a relay). The worker keeps sampling meanwhile and swaps
// between batches (TakeNewer / WaitFor), only ever to a version whose every chunk checked.
//
// Faults: a parent that stops answering for relay_timeout_ms, answers NOT_HELD, or sends the
// same chunk corrupt twice is reported (Reparent); the service names a new parent and the
// fetch resumes at the chunks still missing (nothing already checked is fetched again). A
// newer version arriving mid-fetch replaces the one in flight (chunks in common are kept).
//
//   ASSIGN_OR_RETURN(auto rx, Receiver::Start({.service = "broadcast:50061"}));
//   if (auto v = rx->WaitFor(lease_version, std::chrono::seconds(30)))
//     policy->LoadWeightsFrom(std::move(v->bytes), ...);
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_BROADCAST_RECEIVER_H_
#define R1RL_LIB_BROADCAST_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/security/security_options.h"
#include "r1rl/v1/broadcast.pb.h"

namespace r1rl::broadcast {

struct ReceiverOptions {
  std::string service;                          // host:port of the service's gRPC
  std::string bind = "tcp://127.0.0.1:0";       // this receiver's chunk server (port 0: any free)
  std::string advertise_host;                   // how children reach it ("" = this host's name)
  std::string receiver_id;                      // "" = the service names it
  int64_t max_model_bytes = int64_t{64} << 30;  // a larger manifest is refused
  bool keep_bytes = true;                       // false: check and drop (benchmarks)
  // Without keep_bytes: chunks held for the child at most (0: all of the version). A child
  // asking for one dropped already is told NOT_HELD and fed by another holder.
  int max_held_chunks = 0;
  int progress_ms = 200;               // Sync period while a version is in flight
  security::SecurityOptions security;  // TLS + the worker token to the service
  // Ask into the learner's collective group (broadcast.collective): while in a working group
  // the service gives no relay parent and versions come through the group
  // (collective_receiver.h), which reports them here (HeldThroughCollective).
  bool collective = false;
};

struct ReceivedVersion {
  int64_t version = -1;
  std::string bytes;  // the safetensors byte string (empty without keep_bytes)
  int64_t published_unix_ms = 0;
  int64_t verified_unix_ms = 0;
  double fetch_seconds = 0;  // from its manifest reaching here to the last chunk checked
  int chunks_fetched = 0;
  int chunks_skipped = 0;  // held already (same hash)
};

// Whether a version at hand (`ready`) answers a request for `asked`: that version, or a newer
// one that is the service's newest announced (`newest`, -1: none). A version numbered below a
// newer announcement is a restarted learner's, never taken for a higher number.
inline bool AnswersRequest(int64_t ready, int64_t asked, int64_t newest) {
  return ready == asked || (ready > asked && ready == newest);
}

class Receiver {
 public:
  // Starts the chunk server and the threads; joining happens on the sync thread (retried until
  // the service answers), so a worker may start before the service.
  static absl::StatusOr<std::unique_ptr<Receiver>> Start(ReceiverOptions options);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Waits up to `timeout` for `version` (or a newer one that is the service's newest),
  // verified, then takes it (its bytes are moved out). Versions follow the service's newest,
  // whatever its number (a learner restarted from a checkpoint publishes an older number
  // again): ask for the version the lease names.
  std::optional<ReceivedVersion> WaitFor(int64_t version, std::chrono::milliseconds timeout);
  // Joined, and heard from the service lately.
  bool connected() const;
  // The collective group it is in now, as the last Sync said (nullopt: none, or it failed:
  // versions come from the relay chains).
  std::optional<v1::CollectiveAssignment> collective() const;
  // The newest announced manifest (null: none yet).
  std::shared_ptr<const v1::Manifest> announced() const;
  // Waits up to `timeout` for the announced manifest or the collective assignment to change
  // after `seen` (0 at first); returns the count of changes to pass next time.
  uint64_t WaitForNews(uint64_t seen, std::chrono::milliseconds timeout) const;
  // `version` arrived, complete, through the collective group: reported as held.
  void HeldThroughCollective(int64_t version);
  // The collective group of `generation` failed here: reported, so that the service sends
  // its members back to the relay chains.
  void CollectiveFailed(int64_t generation);
  // The newest version the service has announced to this receiver (-1: none yet).
  int64_t announced_version() const;
  int64_t held_version() const;  // newest verified (-1: none)
  v1::ReceiverCounters counters() const;
  std::string id() const;
  std::string endpoint() const;  // its chunk server, as children reach it
  void Stop();                   // idempotent

 private:
  struct State;
  explicit Receiver(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_RECEIVER_H_
