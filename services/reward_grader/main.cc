// r1rl-reward-grader: the reward grader service (grader_server.h).
//
//   r1rl-reward-grader [--config FILE]... [--set key=value]...
//
// Keys: grader.* (sockets, threads, limits) and reward.* (weights, format, CAS, sandbox);
// docs/configuration.md. Runs until SIGTERM or SIGINT, then grades and pushes what it has
// taken and exits 0. A bad configuration exits 2 with the key named.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "services/config/config.h"
#include "services/reward_grader/grader_server.h"

int main(int argc, char** argv) {
  CLI::App app{"r1rl-reward-grader: rule-based rewards for rollout groups (ZeroMQ in/out, gRPC status)"};
  std::vector<std::string> files, overrides;
  app.add_option("--config", files, "YAML config file (repeatable)");
  app.add_option("--set", overrides, "key.path=value override (repeatable)");
  CLI11_PARSE(app, argc, argv);
  auto cfg = r1rl::config::Config::Load(files, overrides);
  if (!cfg.ok()) {
    std::cerr << "r1rl-reward-grader: " << cfg.status().message() << "\n";
    return 2;
  }
  // Logs on stderr (stdout carries the one "serving" line); a closed pipe is not fatal.
  spdlog::set_default_logger(spdlog::stderr_color_mt("r1rl-reward-grader"));
  spdlog::set_level(spdlog::level::from_str(cfg->GetString("runtime.log_level")));
  signal(SIGPIPE, SIG_IGN);
  auto options = r1rl::reward::GraderServerOptionsFromConfig(*cfg);
  if (!options.ok()) {
    std::cerr << "r1rl-reward-grader: " << options.status().message() << "\n";
    return 2;
  }
  // Signals are taken synchronously by the main thread; every other thread blocks them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto server = r1rl::reward::GraderServer::Start(*options);
  if (!server.ok()) {
    std::cerr << "r1rl-reward-grader: " << server.status().message() << "\n";
    return 2;
  }
  std::cout << "r1rl-reward-grader " << (*server)->id() << " serving; gRPC port " << (*server)->grpc_port()
            << ", metrics port " << (*server)->metrics_port() << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  spdlog::info("signal {}: finishing the groups taken, then stopping", sig);
  (*server)->Shutdown();
  return 0;
}
