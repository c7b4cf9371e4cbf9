// r1rl-learner: the controller and the GRPO trainer in one process (learner_service.h).
//
//   r1rl-learner --config configs/cluster.yaml --set learner.run_dir=runs/exp1
//
// Keys: learner.*, grpo.*, optim.*, generation.*, runtime.* (docs/configuration.md).
// SIGTERM/SIGINT: finishes the step in progress, saves checkpoints/final, exits 0. A bad
// configuration or dataset exits 2 naming the key, file or line.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "services/config/config.h"
#include "services/learner/learner_service.h"
#include "services/runtime/threads.h"

int main(int argc, char** argv) {
  CLI::App app{"r1rl-learner: controller (leases, RocksDB rollout buffer) and GRPO trainer"};
  std::vector<std::string> files, overrides;
  app.add_option("--config", files, "YAML config file (repeatable)");
  app.add_option("--set", overrides, "key.path=value override (repeatable)");
  CLI11_PARSE(app, argc, argv);
  auto cfg = r1rl::config::Config::Load(files, overrides);
  if (!cfg.ok()) {
    std::cerr << "r1rl-learner: " << cfg.status().message() << "\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("r1rl-learner"));
  spdlog::set_level(spdlog::level::from_str(cfg->GetString("runtime.log_level")));
  signal(SIGPIPE, SIG_IGN);
  r1rl::runtime::ConfigureThreads(cfg->GetInt("runtime.threads"));
  auto options = r1rl::learner::LearnerOptionsFromConfig(*cfg);
  if (!options.ok()) {
    std::cerr << "r1rl-learner: " << options.status().message() << "\n";
    return 2;
  }
  static std::atomic<bool> stop{false};
  struct sigaction sa {};
  sa.sa_handler = [](int) { stop = true; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  auto s = r1rl::learner::RunLearner(*options, stop, std::cout);
  if (!s.ok()) {
    std::cerr << "r1rl-learner: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound ? 2 : 1;
  }
  return 0;
}
