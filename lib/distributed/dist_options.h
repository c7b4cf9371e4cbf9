// Where a data-parallel learner's rank sits and how it meets the others: rank, world size,
// the rendezvous address (c10d's TCPStore, hosted by rank 0), the backend and the collectives'
// timeout. From the configuration (learner.*) or, where a key is left at its default, the
// variables every PyTorch launcher sets: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE (and a
// Kubernetes StatefulSet's pod name, learner-N, for the rank). No LibTorch here.
//
//   ASSIGN_OR_RETURN(DistOptions d, DistOptionsFromConfig(cfg, GetEnv));
#ifndef R1RL_LIB_DISTRIBUTED_DIST_OPTIONS_H_
#define R1RL_LIB_DISTRIBUTED_DIST_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/config.h"

namespace r1rl::distributed {

enum class Backend { kAuto, kGloo, kNccl };

struct DistOptions {
  int rank = 0;
  int world_size = 1;  // 1: one process, no process group at all
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  // rank 0 may give 0: a port the kernel picks (see on_listening)
  // Rank 0 only: called with the store's port once it serves, before the other ranks are
  // waited for (to tell them where to meet when master_port was 0).
  std::function<void(int port)> on_listening;
  Backend backend = Backend::kAuto;  // auto: NCCL when the model is on CUDA, else Gloo
  // Every collective and the rendezvous fail after this long (a dead or hung rank).
  std::chrono::milliseconds timeout{120000};
  // Gloo's network interface ("" : GLOO_SOCKET_IFNAME, else the address the host name
  // resolves to, loopback when master_addr is loopback).
  std::string interface;
  int64_t bucket_bytes = 25 << 20;  // gradient all-reduce bucket size
  bool shard_optimizer = false;     // ZeRO-1: each rank keeps 1/N of the Adam state
  bool overlap = true;              // start each bucket's all-reduce during the backward pass
};

// Reads an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> GetEnv(const std::string& name);

// learner.world_size, learner.rank, learner.master_addr, learner.master_port,
// learner.dist_backend, learner.dist_timeout_s, learner.dist_interface, learner.bucket_mb,
// learner.shard_optimizer, learner.overlap_allreduce; unset ones from `env`. InvalidArgument naming
// the key (or the variable) and the value: a rank outside [0, world size), a world size
// outside 1..65536, a port outside 1..65535, an unknown backend.
absl::StatusOr<DistOptions> DistOptionsFromConfig(const config::Config& cfg,
                                                  const EnvLookup& env = GetEnv);

const char* BackendName(Backend backend);

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_DIST_OPTIONS_H_
