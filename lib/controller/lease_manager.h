// The controller's leases: which prompts are being sampled, by whom, until when, and how far
// sampling may run ahead of learning. Torch-free; the clock is passed in (tests drive it).
//
//   LeaseManager leases(options, [&] { return dataset.Next(); });
//   auto granted = leases.Grant("worker-1", 8, now);   // prompts with lease ids and deadlines
//   leases.Completed(lease_id);                          // its group reached the buffer (first
//   arrival) leases.Consumed(16); leases.SetPolicyVersion(step);  // the trainer took a step
//
// Leases: each prompt handed out gets a lease id; a lease not completed by its deadline
// expires and is granted again — same lease id, next attempt, the current policy version —
// before any new prompt, so the buffer's dedup by lease id keeps whichever group arrives
// first and drops the other. Staleness bound: a group sampled at version v is trainable at
// step s only if s - v <= max_staleness, so at most (max_staleness + 1) steps' worth of
// groups (groups_per_step each) may be leased, buffered, or taken by the trainer but not yet
// trained on (the version has not moved) at once; Grant returns fewer (or none) beyond
// that. So a prompt leased while the trainer works on step s waits for version s: sampled
// earlier, it would arrive one version too old. Groups the trainer takes and throws away
// (stale, no reward signal, bad) are reported with Discarded and free their place. max_staleness =
// 0 is strictly on-policy (R1).
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_CONTROLLER_LEASE_MANAGER_H_
#define R1RL_LIB_CONTROLLER_LEASE_MANAGER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/data/prompt_dataset.h"

namespace r1rl::learner {

using LeaseClock = std::chrono::steady_clock;

struct LeaseOptions {
  std::chrono::milliseconds lease_duration{120000};
  int64_t max_staleness = 0;
  int64_t groups_per_step = 32;
  // Lease ids are this prefix and a counter. The controller makes it unique per start, so a
  // restarted learner never reuses an id the buffer's dedup index already holds.
  std::string lease_id_prefix = "L";
  int64_t start_position = 0;  // the dataset's position when the controller starts (a resume)
};

struct Lease {
  std::string lease_id;
  int attempt = 1;  // > 1: granted again after expiring
  PromptRow prompt;
  int64_t policy_version = 0;
  LeaseClock::time_point deadline;
  std::string worker;   // the holder now ("" while expired, waiting to be granted again)
  std::string grantee;  // the worker it was last granted to: the one whose group is taken
};

struct LeaseStats {
  int64_t granted = 0;    // grants, first attempts and re-grants
  int64_t expired = 0;    // leases that passed their deadline
  int64_t regranted = 0;  // expired leases granted again (included in `granted`)
  int64_t completed = 0;
  int64_t unknown_completions = 0;  // Completed() for a lease never granted or already done
  int64_t outstanding = 0;          // granted, not completed (expired ones waiting included)
  int64_t unconsumed = 0;           // completed, not yet consumed by the trainer
  // Prompts a worker could lease right now and none has asked for: expired leases waiting
  // for a re-grant and the staleness window's free places (only expired ones when draining
  // or out of data, 0 when paused). Above zero for long, sampling is short of workers:
  // the rollout workers' autoscaling signal (deploy/k8s/prometheus-adapter.yaml).
  int64_t waiting = 0;
  int64_t policy_version = 0;
  bool dataset_exhausted = false;
  bool draining = false;  // Drain() was called: no new prompts
};

class LeaseManager {
 public:
  // `next_prompt` yields the dataset's rows in order (nullopt at the end).
  LeaseManager(LeaseOptions options, std::function<std::optional<PromptRow>()> next_prompt);

  // Up to `max` leases for `worker`: expired ones first, then new prompts, within the
  // staleness window. Empty when paused, at the window's edge or out of data.
  std::vector<Lease> Grant(const std::string& worker, int max, LeaseClock::time_point now);
  // The group for `lease_id` was ingested. False (and counted) when the lease is unknown or
  // already completed.
  bool Completed(const std::string& lease_id);
  // The trainer consumed `groups` completed groups (one step's batch).
  void Consumed(int64_t groups);
  // Of the consumed groups, `groups` will not be trained on (stale, filtered, bad input).
  void Discarded(int64_t groups);
  // The trainer is done with these leases' groups (trained on, or dropped for good): their
  // prompts no longer hold back the resume position.
  void Trained(const std::vector<std::string>& lease_ids);
  // The dataset position a restarted controller resumes from: the oldest prompt leased and
  // not yet trained (outstanding, buffered or in training), else the next one to draw. The
  // prompts after it that were trained are trained again after a restart: at most the
  // staleness window's worth.
  int64_t ResumePosition() const;
  // Whether `lease_id` was granted and is not completed yet (expired ones included).
  bool IsActive(const std::string& lease_id) const;
  // The worker `lease_id` was last granted to (its group must name it); nullopt when the
  // lease is not active.
  std::optional<std::string> Grantee(const std::string& lease_id) const;
  void SetPolicyVersion(int64_t version);
  void Pause(bool paused);
  // From now on no new prompt is leased; expired leases are still granted again, so every
  // outstanding prompt is finished. Not undone.
  void Drain();
  LeaseStats Stats() const;

 private:
  void ExpireLocked(LeaseClock::time_point now);
  // Places left in the staleness window for new prompts (never below 0).
  int64_t WindowRoomLocked() const;
  LeaseOptions options_;
  std::function<std::optional<PromptRow>()> next_prompt_;
  mutable std::mutex mu_;
  std::map<std::string, Lease> active_;  // lease id -> lease (not completed)
  std::deque<std::string> expired_;      // lease ids waiting to be granted again
  // (deadline, lease id) in grant order: deadlines are grant time + one duration, so this is
  // sorted and expiry looks only at its front. Entries of completed or re-granted leases
  // are skipped when they come up.
  std::deque<std::pair<LeaseClock::time_point, std::string>> deadlines_;
  int64_t next_id_ = 1;
  int64_t unconsumed_ = 0;
  int64_t in_training_ = 0;  // consumed since the version last moved, to be trained on
  bool paused_ = false;
  bool draining_ = false;
  std::multiset<int64_t> untrained_;            // positions leased, not yet trained
  std::map<std::string, int64_t> position_of_;  // lease id -> position, until trained
  int64_t next_position_ = 0;                   // after the newest prompt drawn
  LeaseStats stats_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_LEASE_MANAGER_H_
