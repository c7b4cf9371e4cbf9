#include "lib/distributed/dist_options.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace r1rl::distributed {
namespace {

absl::Status Bad(const std::string& key, const std::string& value, const std::string& rule) {
  return absl::InvalidArgumentError(absl::StrCat(key, " = ", value, ": ", rule));
}

// An integer from the config key when set, else from the variable, else `fallback`.
absl::StatusOr<int64_t> IntFrom(const config::Config& cfg, const std::string& key,
                                int64_t unset_value, const EnvLookup& env, const char* var,
                                int64_t fallback) {
  const int64_t v = cfg.GetInt(key);
  if (v != unset_value) return v;
  if (std::optional<std::string> e = env(var)) {
    int64_t parsed = 0;
    if (!absl::SimpleAtoi(*e, &parsed)) return Bad(var, "\"" + *e + "\"", "not an integer");
    return parsed;
  }
  return fallback;
}

}  // namespace

std::optional<std::string> GetEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kGloo:
      return "gloo";
    case Backend::kNccl:
      return "nccl";
  }
  return "?";
}

absl::StatusOr<DistOptions> DistOptionsFromConfig(const config::Config& cfg, const EnvLookup& env) {
  DistOptions d;
  auto world = IntFrom(cfg, "learner.world_size", 0, env, "WORLD_SIZE", 1);
  if (!world.ok()) return world.status();
  if (*world < 1 || *world > 65536)
    return Bad("learner.world_size", std::to_string(*world), "must be in 1..65536");
  d.world_size = static_cast<int>(*world);
  // The rank: learner.rank, else RANK, else a StatefulSet pod's ordinal (HOSTNAME learner-N).
  int64_t rank_fallback = 0;
  if (d.world_size > 1 && cfg.GetInt("learner.rank") < 0 && !env("RANK")) {
    if (std::optional<std::string> host = env("HOSTNAME")) {
      const size_t dash = host->rfind('-');
      int64_t ordinal = 0;
      if (dash != std::string::npos && absl::SimpleAtoi(host->substr(dash + 1), &ordinal))
        rank_fallback = ordinal;
    }
  }
  auto rank = IntFrom(cfg, "learner.rank", -1, env, "RANK", rank_fallback);
  if (!rank.ok()) return rank.status();
  if (*rank < 0 || *rank >= d.world_size) {
    return Bad(
        "learner.rank", std::to_string(*rank),
        absl::StrCat("must be in [0, ", d.world_size, ") for learner.world_size ", d.world_size));
  }
  d.rank = static_cast<int>(*rank);
  d.master_addr = cfg.GetString("learner.master_addr");
  if (d.master_addr.empty()) d.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
  auto port = IntFrom(cfg, "learner.master_port", 0, env, "MASTER_PORT", 29500);
  if (!port.ok()) return port.status();
  if (*port < 1 || *port > 65535)
    return Bad("learner.master_port", std::to_string(*port), "must be in 1..65535");
  d.master_port = static_cast<int>(*port);
  const std::string backend = cfg.GetString("learner.dist_backend");
  if (backend == "auto") {
    d.backend = Backend::kAuto;
  } else if (backend == "gloo") {
    d.backend = Backend::kGloo;
  } else if (backend == "nccl") {
    d.backend = Backend::kNccl;
  } else {
    return Bad("learner.dist_backend", "\"" + backend + "\"", "auto, gloo or nccl");
  }
  const double timeout_s = cfg.GetDouble("learner.dist_timeout_s");
  if (!(timeout_s >= 1 && timeout_s <= 86400))
    return Bad("learner.dist_timeout_s", absl::StrCat(timeout_s), "must be in [1, 86400]");
  d.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  d.interface = cfg.GetString("learner.dist_interface");
  if (d.interface.empty()) d.interface = env("GLOO_SOCKET_IFNAME").value_or("");
  const double bucket_mb = cfg.GetDouble("learner.bucket_mb");
  if (!(bucket_mb >= 0.001 && bucket_mb <= 4096))
    return Bad("learner.bucket_mb", absl::StrCat(bucket_mb), "must be in [0.001, 4096]");
  d.bucket_bytes = static_cast<int64_t>(bucket_mb * (1 << 20));
  d.shard_optimizer = cfg.GetBool("learner.shard_optimizer");
  d.overlap = cfg.GetBool("learner.overlap_allreduce");

  return d;
}

}  // namespace r1rl::distributed
