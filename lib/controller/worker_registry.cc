#include "lib/controller/worker_registry.h"

#include "absl/strings/str_cat.h"

namespace r1rl::learner {

std::string WorkerRegistry::Register(std::string id, const std::string& host,
                                     Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  // Ids are unique among live workers: a name taken by a live worker (or an anonymous one
  // that would collide) gets a fresh suffix, so no caller takes over another's status row.
  auto live = [&](const std::string& candidate) {
    auto it = seen_.find(candidate);
    return it != seen_.end() && now - it->second <= horizon_;
  };
  if (id.empty() || live(id)) {
    const std::string base = id.empty() ? "worker" : id;
    do {
      id = absl::StrCat(base, "-", next_++);
    } while (live(id));
  }
  seen_[id] = now;
  hosts_[id] = host;
  return id;
}

bool WorkerRegistry::Touch(const std::string& id, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find(id);
  if (it == seen_.end()) return false;
  it->second = now;
  return true;
}

void WorkerRegistry::Report(const v1::WorkerReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  reports_[report.worker_id()] = report;
}

int64_t WorkerRegistry::Live(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [id, seen] : seen_) n += now - seen <= horizon_;
  return n;
}

void WorkerRegistry::Fill(v1::ControllerStatus* s, Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  int32_t live = 0;
  for (const auto& [id, seen] : seen_) {
    v1::WorkerInfo* w = s->add_worker_info();
    w->set_worker_id(id);
    if (auto h = hosts_.find(id); h != hosts_.end()) w->set_host(h->second);
    w->set_seconds_since_seen(std::chrono::duration<double>(now - seen).count());
    w->set_live(now - seen <= horizon_);
    live += w->live();
    w->set_policy_version(-1);
    if (auto r = reports_.find(id); r != reports_.end()) {
      const v1::WorkerReport& rep = r->second;
      w->set_policy_version(rep.policy_version());
      w->set_tokens_generated(rep.tokens_generated());
      w->set_tokens_per_second(
          rep.generate_seconds() > 0 ? rep.tokens_generated() / rep.generate_seconds() : 0.0);
      w->set_groups_pushed(rep.groups_pushed());
      w->set_metrics_address(rep.metrics_address());
      w->set_grpc_address(rep.grpc_address());
    }
  }
  s->set_workers(live);
}

}  // namespace r1rl::learner
