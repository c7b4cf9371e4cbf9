// r1rl-rollout-worker: samples rollout groups for the controller (rollout_worker.h).
//
//   r1rl-rollout-worker --set worker.model=assets/demo-base --set worker.controller=learner:50051
//
// Keys: worker.*, prompt.*, generation.*, runtime.* (docs/configuration.md). Runs until
// SIGTERM/SIGINT (or the data is done with worker.exit_when_done). A bad configuration
// exits 2 with the key named.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <thread>

#include "services/config/config.h"
#include "services/rollout_worker/rollout_worker.h"
#include "services/runtime/threads.h"

int main(int argc, char** argv) {
  CLI::App app{"r1rl-rollout-worker: leases prompts, samples groups, pushes them to the graders"};
  std::vector<std::string> files, overrides;
  app.add_option("--config", files, "YAML config file (repeatable)");
  app.add_option("--set", overrides, "key.path=value override (repeatable)");
  CLI11_PARSE(app, argc, argv);
  auto cfg = r1rl::config::Config::Load(files, overrides);
  if (!cfg.ok()) {
    std::cerr << "r1rl-rollout-worker: " << cfg.status().message() << "\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("r1rl-rollout-worker"));
  spdlog::set_level(spdlog::level::from_str(cfg->GetString("runtime.log_level")));
  signal(SIGPIPE, SIG_IGN);
  r1rl::runtime::ConfigureThreads(cfg->GetInt("runtime.threads"));
  auto options = r1rl::rollout::RolloutWorkerOptionsFromConfig(*cfg);
  if (!options.ok()) {
    std::cerr << "r1rl-rollout-worker: " << options.status().message() << "\n";
    return 2;
  }
  auto worker = r1rl::rollout::RolloutWorker::Create(*options);
  if (!worker.ok()) {
    std::cerr << "r1rl-rollout-worker: " << worker.status().message() << "\n";
    return 2;
  }
  static std::atomic<bool> stop{false};
  struct sigaction sa {};
  sa.sa_handler = [](int) { stop = true; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  auto s = (*worker)->Run(stop);
  if (!s.ok()) {
    std::cerr << "r1rl-rollout-worker: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
