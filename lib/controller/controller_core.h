// The controller's state, shared by its parts (internal to lib/controller): the gRPC layer
// (controller_service.h) reads and changes it on RPCs, the data plane and the trainer's
// interface (controller_server.h) on ingest and batches. It holds the prompt set and the
// leases, the rollout buffer, the worker registry, the weight store, the checkpoint
// requests, pause/drain, the count of rejected input, and the controller's metrics.
//
// Thread-safety: the members say what guards them; the methods are thread-safe.
#ifndef R1RL_LIB_CONTROLLER_CONTROLLER_CORE_H_
#define R1RL_LIB_CONTROLLER_CONTROLLER_CORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/controller/checkpoint_requests.h"
#include "lib/controller/controller_metrics.h"
#include "lib/controller/controller_server.h"
#include "lib/controller/lease_manager.h"
#include "lib/controller/rollout_buffer.h"
#include "lib/controller/weight_store.h"
#include "lib/controller/worker_registry.h"
#include "lib/data/prompt_dataset.h"
#include "lib/metrics/metrics.h"
#include "r1rl/v1/controller.pb.h"

namespace r1rl::learner {

struct ControllerCore {
  using Clock = std::chrono::steady_clock;
  ControllerCore(ControllerOptions options, PromptDataset dataset);

  const ControllerOptions options;
  PromptDataset dataset;                  // read by the lease manager under `mu`
  std::unique_ptr<RolloutBuffer> buffer;  // thread-safe
  std::unique_ptr<LeaseManager> leases;   // thread-safe
  WorkerRegistry workers;
  WeightStore weights;
  CheckpointRequests checkpoints;
  metrics::Registry registry;
  ControllerMetrics m{registry};
  std::atomic<bool> running{true};
  std::atomic<int64_t> policy_version{0};
  std::optional<ResumePoint> resumed;  // set once at start

  mutable std::mutex mu;  // paused, draining, rejected, the dataset; long polls wait on it
  std::condition_variable lease_cv;     // woken when the lease window may have opened
  std::condition_variable ingested_cv;  // woken by ingest (waited on under `mu`)
  // Held from a group's write to the buffer to its lease's completion, and from a batch's
  // peek to its consumption, so the lease window's count of buffered groups never sees a
  // group consumed before it was counted in (that leaked a place per race: a stalled run).
  std::mutex ingest_mu;
  bool paused = false;
  bool draining = false;
  // Long polls in arrival order (under `mu`): only the first may take from the window, so a
  // worker that asks for one prompt is not starved by workers that ask for many and wake first.
  std::deque<uint64_t> lease_queue;
  uint64_t next_lease_ticket = 0;
  std::map<std::string, int64_t> rejected;

  // Counts bad input by reason (metric and status) and logs it.
  void Reject(const std::string& reason, const std::string& detail);
  // Leases up to `max` prompts for `worker`, waiting up to `wait` for the window to open
  // (a long poll; `cancelled` is asked every 100 ms at most). Waiting callers are served
  // first come, first served.
  std::vector<Lease> Grant(const std::string& worker, int max, std::chrono::milliseconds wait,
                           const std::function<bool()>& cancelled);
  void SetPaused(bool paused);
  void Drain();
  // A graded group's bytes from the data plane: checked, deduplicated, written to the buffer.
  void Ingest(const void* data, size_t size);
  void RefreshGauges();
  v1::ControllerStatus Snapshot() const;
  // Workers heard from within a lease's duration (or three heartbeats, if longer).
  Clock::duration LiveHorizon() const;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_CONTROLLER_CORE_H_
