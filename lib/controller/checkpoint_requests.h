// Admin.CheckpointNow's hand-off between the gRPC threads that ask and the trainer that
// saves. Requests are numbered; the trainer looks between steps (and while it waits for
// rollouts), saves once, and reports with Served(that number, ...), which answers every
// request up to it.
//
//   const int64_t ticket = requests.Request();                     // an Admin RPC
//   auto done = requests.Wait(ticket, deadline, cancelled);        // its answer
//   ...
//   const int64_t pending = requests.Pending();                    // the trainer, 0: none
//   ... save ...
//   requests.Served(pending, step, path);
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_CONTROLLER_CHECKPOINT_REQUESTS_H_
#define R1RL_LIB_CONTROLLER_CHECKPOINT_REQUESTS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace r1rl::learner {

class CheckpointRequests {
 public:
  struct Saved {
    int64_t step = -1;
    std::string path;
  };

  // A new request's ticket; `on_request` (set once, before use) is told, so a trainer that
  // waits for rollouts looks at once.
  int64_t Request();
  void set_on_request(std::function<void()> f) { on_request_ = std::move(f); }
  // Until the ticket is served: the checkpoint that served it. DeadlineExceeded at
  // `deadline`, Unavailable once `stopping()` or Shutdown().
  absl::StatusOr<Saved> Wait(int64_t ticket, std::chrono::steady_clock::time_point deadline,
                             const std::function<bool()>& stopping);
  // The newest ticket not yet served (0: none).
  int64_t Pending() const;
  void Served(int64_t through, int64_t step, const std::string& path);
  Saved last() const;
  void Shutdown();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> on_request_;
  int64_t requested_ = 0, served_ = 0;
  Saved last_;
  bool shut_down_ = false;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_CHECKPOINT_REQUESTS_H_
