#include "lib/controller/lease_manager.h"

#include <algorithm>

namespace r1rl::learner {

LeaseManager::LeaseManager(LeaseOptions options,
                           std::function<std::optional<PromptRow>()> next_prompt)
    : options_(options),
      next_prompt_(std::move(next_prompt)),
      next_position_(options.start_position) {}

void LeaseManager::ExpireLocked(LeaseClock::time_point now) {
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    auto it = active_.find(deadlines_.front().second);
    if (it != active_.end() && !it->second.worker.empty() && it->second.deadline <= now) {
      it->second.worker.clear();  // no holder: waiting to be granted again
      expired_.push_back(it->first);
      ++stats_.expired;
    }
    deadlines_.pop_front();
  }
}

std::vector<Lease> LeaseManager::Grant(const std::string& worker, int max,
                                       LeaseClock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  std::vector<Lease> out;
  if (paused_ || max <= 0) return out;
  // Expired leases are already inside the window (they were counted when first granted).
  while (!expired_.empty() && static_cast<int>(out.size()) < max) {
    Lease& l = active_.at(expired_.front());
    expired_.pop_front();
    ++l.attempt;
    l.worker = worker;
    l.grantee = worker;
    l.policy_version = stats_.policy_version;
    l.deadline = now + options_.lease_duration;
    deadlines_.emplace_back(l.deadline, l.lease_id);
    ++stats_.granted;
    ++stats_.regranted;
    out.push_back(l);
  }
  while (!draining_ && static_cast<int>(out.size()) < max && WindowRoomLocked() > 0) {
    std::optional<PromptRow> row = next_prompt_();
    if (!row) {
      stats_.dataset_exhausted = true;
      break;
    }
    Lease l;
    l.lease_id = options_.lease_id_prefix + std::to_string(next_id_++);
    untrained_.insert(row->position);
    position_of_[l.lease_id] = row->position;
    next_position_ = std::max(next_position_, row->position + 1);
    l.prompt = std::move(*row);
    l.worker = worker;
    l.grantee = worker;
    l.policy_version = stats_.policy_version;
    l.deadline = now + options_.lease_duration;
    deadlines_.emplace_back(l.deadline, l.lease_id);
    ++stats_.granted;
    out.push_back(l);
    active_.emplace(l.lease_id, l);
  }
  return out;
}

bool LeaseManager::Completed(const std::string& lease_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(lease_id);
  if (it == active_.end()) {
    ++stats_.unknown_completions;
    return false;
  }
  if (it->second.worker.empty()) {  // it had expired and waits for a re-grant: not any more
    expired_.erase(std::remove(expired_.begin(), expired_.end(), lease_id), expired_.end());
  }
  active_.erase(it);
  ++unconsumed_;
  ++stats_.completed;
  return true;
}

void LeaseManager::Consumed(int64_t groups) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t n = std::min(unconsumed_, std::max<int64_t>(0, groups));
  unconsumed_ -= n;
  in_training_ += n;
}

void LeaseManager::Discarded(int64_t groups) {
  std::lock_guard<std::mutex> lock(mu_);
  in_training_ = std::max<int64_t>(0, in_training_ - std::max<int64_t>(0, groups));
}

std::optional<std::string> LeaseManager::Grantee(const std::string& lease_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(lease_id);
  if (it == active_.end()) return std::nullopt;
  return it->second.grantee;
}

bool LeaseManager::IsActive(const std::string& lease_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_.count(lease_id) > 0;
}

void LeaseManager::SetPolicyVersion(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (version != stats_.policy_version) in_training_ = 0;  // they were trained on
  stats_.policy_version = version;
}

void LeaseManager::Pause(bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = paused;
}

void LeaseManager::Trained(const std::vector<std::string>& lease_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : lease_ids) {
    auto it = position_of_.find(id);
    if (it == position_of_.end()) continue;
    if (auto u = untrained_.find(it->second); u != untrained_.end()) untrained_.erase(u);
    position_of_.erase(it);
  }
}

int64_t LeaseManager::ResumePosition() const {
  std::lock_guard<std::mutex> lock(mu_);
  return untrained_.empty() ? next_position_ : *untrained_.begin();
}

void LeaseManager::Drain() {
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = true;
  stats_.draining = true;
}

int64_t LeaseManager::WindowRoomLocked() const {
  const int64_t window = (options_.max_staleness + 1) * options_.groups_per_step;
  return std::max<int64_t>(
      0, window - static_cast<int64_t>(active_.size()) - unconsumed_ - in_training_);
}

LeaseStats LeaseManager::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LeaseStats s = stats_;
  s.outstanding = static_cast<int64_t>(active_.size());
  s.unconsumed = unconsumed_;
  const int64_t free_places = draining_ || stats_.dataset_exhausted ? 0 : WindowRoomLocked();
  s.waiting = paused_ ? 0 : static_cast<int64_t>(expired_.size()) + free_places;
  return s;
}

}  // namespace r1rl::learner
