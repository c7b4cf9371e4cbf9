#include "lib/controller/checkpoint_requests.h"

#include <algorithm>

namespace r1rl::learner {

int64_t CheckpointRequests::Request() {
  int64_t ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ticket = ++requested_;
  }
  if (on_request_) on_request_();
  return ticket;
}

absl::StatusOr<CheckpointRequests::Saved> CheckpointRequests::Wait(
    int64_t ticket, std::chrono::steady_clock::time_point deadline,
    const std::function<bool()>& stopping) {
  std::unique_lock<std::mutex> lock(mu_);
  while (served_ < ticket) {
    if (shut_down_ || stopping()) return absl::UnavailableError("the learner is stopping");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return absl::DeadlineExceededError("the learner has not reached a step boundary");
    }
    cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(200)));
  }
  return last_;
}

int64_t CheckpointRequests::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requested_ > served_ ? requested_ : 0;
}

void CheckpointRequests::Served(int64_t through, int64_t step, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    served_ = std::max(served_, through);
    last_ = {step, path};
  }
  cv_.notify_all();
}

CheckpointRequests::Saved CheckpointRequests::last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void CheckpointRequests::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
  }
  cv_.notify_all();
}

}  // namespace r1rl::learner
