// Reading another process's metrics: an HTTP GET of /metrics (or any path) and a parser of
// the text format into name{labels} -> value. For `r1rl cluster status` and tests.
//
//   ASSIGN_OR_RETURN(std::string text, HttpGet("127.0.0.1:9101", "/metrics", 2000ms));
//   Samples s = ParseText(text);
//   double v = s["r1rl_learner_policy_version"];
//   double w = s["r1rl_controller_state{quantity=\"workers\"}"];
#ifndef R1RL_LIB_METRICS_SCRAPE_H_
#define R1RL_LIB_METRICS_SCRAPE_H_

#include <chrono>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace r1rl::metrics {

// The body of a 200 answer; Unavailable when nothing listens or the answer is not 200.
// A non-empty `token` is sent as "Authorization: Bearer <token>" (security.metrics_token).
absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path,
                                    std::chrono::milliseconds timeout,
                                    const std::string& token = "");

// Sample lines as written ("name" or "name{labels}" exactly as in the text) -> value;
// comments and malformed lines are skipped.
using Samples = std::map<std::string, double>;
Samples ParseText(const std::string& text);

}  // namespace r1rl::metrics

#endif  // R1RL_LIB_METRICS_SCRAPE_H_
