#include "lib/training/metrics_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace r1rl::learner {

std::string MetricsJsonLine(const Metrics& m) {
  nlohmann::ordered_json j;
  if (auto step = m.find("step"); step != m.end()) j["step"] = static_cast<int64_t>(step->second);
  for (const auto& [k, v] : m) {
    if (k != "step" && std::isfinite(v)) j[k] = v;
  }
  return j.dump();
}

}  // namespace r1rl::learner
