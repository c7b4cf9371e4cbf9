// The rollout workers a controller knows: registration (an id is given out to a worker that
// brings none), liveness (heard from within a horizon: a worker killed without a word stops
// counting once its leases would have expired) and each worker's last ReportStatus.
//
//   WorkerRegistry workers(/*live_horizon=*/std::chrono::seconds(120));
//   std::string id = workers.Register("", "host-a");   // "worker-1"
//   if (!workers.Touch(id)) ...                          // heartbeat from an unknown worker
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_CONTROLLER_WORKER_REGISTRY_H_
#define R1RL_LIB_CONTROLLER_WORKER_REGISTRY_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "r1rl/v1/controller.pb.h"

namespace r1rl::learner {

class WorkerRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkerRegistry(Clock::duration live_horizon) : horizon_(live_horizon) {}

  // Registers a worker; an empty id gets "worker-<N>", an id a live worker holds gets
  // "<id>-<N>" (ids are unique among live workers). Returns the id.
  std::string Register(std::string id, const std::string& host,
                       Clock::time_point now = Clock::now());
  // Marks the worker as heard from; false when it never registered.
  bool Touch(const std::string& id, Clock::time_point now = Clock::now());
  // Keeps the worker's report (after Touch said it is known).
  void Report(const v1::WorkerReport& report);
  // Workers heard from within the horizon.
  int64_t Live(Clock::time_point now = Clock::now()) const;
  // `live` workers and one WorkerInfo per known worker into `status`.
  void Fill(v1::ControllerStatus* status, Clock::time_point now = Clock::now()) const;

 private:
  const Clock::duration horizon_;
  mutable std::mutex mu_;
  std::map<std::string, Clock::time_point> seen_;
  std::map<std::string, std::string> hosts_;
  std::map<std::string, v1::WorkerReport> reports_;
  int64_t next_ = 1;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_WORKER_REGISTRY_H_
