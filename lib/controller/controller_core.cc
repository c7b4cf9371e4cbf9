#include "lib/controller/controller_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "r1rl/v1/rollout.pb.h"

namespace r1rl::learner {
namespace {

std::chrono::steady_clock::duration Horizon(const ControllerOptions& o) {
  return std::max<std::chrono::steady_clock::duration>(o.leases.lease_duration,
                                                       3 * o.heartbeat_interval);
}

}  // namespace

ControllerCore::ControllerCore(ControllerOptions o, PromptDataset d)
    : options(std::move(o)), dataset(std::move(d)), workers(Horizon(options)) {}

ControllerCore::Clock::duration ControllerCore::LiveHorizon() const { return Horizon(options); }

void ControllerCore::Reject(const std::string& reason, const std::string& detail) {
  {
    std::lock_guard<std::mutex> lock(mu);
    ++rejected[reason];
  }
  m.rejected.Add({{"reason", reason}}).Increment();
  spdlog::warn("controller: rejected ({}): {}", reason, detail);
}

std::vector<Lease> ControllerCore::Grant(const std::string& worker, int max,
                                         std::chrono::milliseconds wait,
                                         const std::function<bool()>& cancelled) {
  std::vector<Lease> granted;
  const auto until = Clock::now() + wait;
  std::unique_lock<std::mutex> lock(mu);  // the dataset is read under it
  const uint64_t ticket = next_lease_ticket++;
  lease_queue.push_back(ticket);
  while (true) {
    const bool first = lease_queue.front() == ticket;
    if (first && (!options.lease_after_weights || weights.has_weights())) {
      granted = leases->Grant(worker, max, Clock::now());
    }
    if (!granted.empty() || paused || !running || cancelled() || Clock::now() >= until) break;
    const LeaseStats ls = leases->Stats();
    if ((ls.dataset_exhausted || ls.draining) && ls.outstanding == 0) break;
    // Expiry is by the clock: look again at least every 100 ms.
    lease_cv.wait_until(lock, std::min(until, Clock::now() + std::chrono::milliseconds(100)));
  }
  const bool was_first = lease_queue.front() == ticket;
  lease_queue.erase(std::find(lease_queue.begin(), lease_queue.end(), ticket));
  lock.unlock();
  if (was_first) lease_cv.notify_all();  // the next in line may take what is left
  m.leases.Increment(static_cast<double>(granted.size()));
  return granted;
}

void ControllerCore::SetPaused(bool p) {
  {
    std::lock_guard<std::mutex> lock(mu);
    paused = p;
  }
  leases->Pause(p);
  lease_cv.notify_all();
}

void ControllerCore::Drain() {
  leases->Drain();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!draining) spdlog::info("controller: draining: no new prompts; outstanding leases finish");
    draining = true;
  }
  lease_cv.notify_all();
  ingested_cv.notify_all();
}

void ControllerCore::Ingest(const void* data, size_t size) {
  if (size > options.max_message_bytes) {
    Reject("oversized", absl::StrCat("message of ", size, " bytes"));
    return;
  }
  v1::RolloutGroup group;
  if (!group.ParseFromArray(data, static_cast<int>(size))) {
    Reject("malformed", absl::StrCat("message of ", size, " bytes is not a RolloutGroup"));
    return;
  }
  if (group.lease_id().empty()) {
    Reject("no_lease_id", "group without lease_id");
    return;
  }
  if (!group.graded()) {
    Reject("not_graded", absl::StrCat("group ", group.lease_id(), " was not graded"));
    return;
  }
  auto seen = buffer->HasLease(group.lease_id());
  if (seen.ok() && *seen) {
    m.duplicate.Increment();
    return;
  }
  const std::optional<std::string> grantee = leases->Grantee(group.lease_id());
  if (!grantee) {
    Reject("unknown_lease",
           absl::StrCat("lease_id = \"", group.lease_id(), "\": not granted by this controller"));
    return;
  }
  if (*grantee != group.worker_id()) {  // a grader can only vouch for the lease's own worker
    Reject("wrong_worker", absl::StrCat("lease_id = \"", group.lease_id(), "\" was granted to ",
                                        *grantee, ", not worker_id = \"", group.worker_id(), "\""));
    return;
  }
  for (const v1::Sample& s : group.samples()) {
    if (!(s.reward() >= options.reward_min && s.reward() <= options.reward_max)) {
      Reject("reward_out_of_range", absl::StrCat("lease_id = \"", group.lease_id(), "\": reward = ",
                                                 s.reward(), " outside [", options.reward_min, ", ",
                                                 options.reward_max, "] (learner.reward_min/max)"));
      return;
    }
  }
  std::unique_lock<std::mutex> ingest_lock(ingest_mu);
  auto r = buffer->Ingest(group);
  if (!r.ok()) {
    // Not stored, so not acknowledged: the lease stays out, expires and its prompt is
    // sampled again. A full disk is counted and retried with the next group.
    ingest_lock.unlock();
    Reject(
        absl::IsResourceExhausted(r.status()) ? "disk_full" : "buffer_error",
        absl::StrCat("lease_id = \"", group.lease_id(), "\" not stored: ", r.status().message()));
    return;
  }
  if (*r == IngestResult::kStored) {
    leases->Completed(group.lease_id());
    ingest_lock.unlock();
    m.ingested.Increment();
    ingested_cv.notify_all();
  } else {
    m.duplicate.Increment();
  }
}

void ControllerCore::RefreshGauges() {
  const LeaseStats s = leases->Stats();
  m.ExportLeaseTotals(s.expired, s.regranted);
  m.state.Add({{"quantity", "policy_version"}}).Set(static_cast<double>(s.policy_version));
  m.state.Add({{"quantity", "leases_outstanding"}}).Set(static_cast<double>(s.outstanding));
  m.state.Add({{"quantity", "leases_waiting"}}).Set(static_cast<double>(s.waiting));
  m.state.Add({{"quantity", "buffer_unconsumed"}}).Set(static_cast<double>(buffer->unconsumed()));
  m.state.Add({{"quantity", "workers"}}).Set(static_cast<double>(workers.Live()));
}

v1::ControllerStatus ControllerCore::Snapshot() const {
  v1::ControllerStatus s;
  const LeaseStats l = leases->Stats();
  s.set_policy_version(l.policy_version);
  s.set_leases_granted(l.granted);
  s.set_leases_expired(l.expired);
  s.set_leases_completed(l.completed);
  s.set_leases_outstanding(l.outstanding);
  s.set_dataset_exhausted(l.dataset_exhausted);
  s.set_groups_ingested(static_cast<int64_t>(buffer->stored_total()));
  s.set_groups_duplicate(static_cast<int64_t>(m.duplicate.Value()));
  s.set_groups_unconsumed(static_cast<int64_t>(buffer->unconsumed()));
  s.set_groups_stale(static_cast<int64_t>(m.stale.Value()));
  s.set_weight_fetches(static_cast<int64_t>(m.weight_fetches.Value()));
  if (auto w = weights.Latest()) {
    s.set_weights_version(w->version);
    s.set_weights_bytes(static_cast<int64_t>(w->bytes.size()));
  } else {
    s.set_weights_version(-1);
    s.set_weights_bytes(0);
  }
  const CheckpointRequests::Saved last = checkpoints.last();
  s.set_last_checkpoint_step(last.step);
  s.set_last_checkpoint_path(last.path);
  workers.Fill(&s);
  std::lock_guard<std::mutex> lock(mu);
  s.set_paused(paused);
  s.set_draining(draining);
  for (const auto& [k, v] : rejected) (*s.mutable_rejected())[k] = v;
  return s;
}

}  // namespace r1rl::learner
