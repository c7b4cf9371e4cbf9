#include "lib/broadcast/collective_membership.h"

#include <algorithm>

namespace r1rl::broadcast {

void CollectiveMembership::Join(const std::string& id) {
  if (std::find(members_.begin(), members_.end(), id) == members_.end()) members_.push_back(id);
}

void CollectiveMembership::Leave(const std::string& id) {
  members_.erase(std::remove(members_.begin(), members_.end(), id), members_.end());
}

const CollectiveGroup& CollectiveMembership::Boundary(int64_t version) {
  const size_t n = std::min(members_.size(), static_cast<size_t>(std::max(0, max_receivers_)));
  std::vector<std::string> next(members_.begin(), members_.begin() + static_cast<long>(n));
  if (current_.generation == 0 || broken_ || next != current_.receivers) {
    broken_ = false;
    current_.generation += 1;
    current_.version = version;
    current_.receivers = std::move(next);
  }
  return current_;
}

int CollectiveMembership::RankOf(const std::string& id) const {
  const auto it = std::find(current_.receivers.begin(), current_.receivers.end(), id);
  return it == current_.receivers.end() ? -1
                                        : static_cast<int>(it - current_.receivers.begin()) + 1;
}

}  // namespace r1rl::broadcast
