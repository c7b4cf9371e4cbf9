#include "lib/runtime/service_main.h"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "lib/security/security_options.h"

namespace r1rl::runtime {
namespace {
std::atomic<bool>* g_stop = nullptr;
}  // namespace

ServiceStart StartService(int argc, char** argv, const std::string& name,
                          const std::string& description) {
  CLI::App app{name + ": " + description};
  std::vector<std::string> files, overrides;
  app.add_option("--config", files, "YAML config file (repeatable)");
  app.add_option("--set", overrides, "key.path=value override (repeatable)");
  ServiceStart start;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    start.exit_code = app.exit(e);
    return start;
  }
  auto cfg = config::Config::Load(files, overrides);
  if (!cfg.ok()) {
    start.exit_code = FailService(name, cfg.status());
    return start;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt(name));
  spdlog::set_level(spdlog::level::from_str(cfg->GetString("runtime.log_level")));
  signal(SIGPIPE, SIG_IGN);
  // Debian's absl is built with mutex deadlock detection on: every lock of gRPC's and ours
  // walks a lock graph (about 5% of the controller's CPU in lease_bench; 173 -> 159 us per
  // LeasePrompts call without it). It is a debugging aid, off by default in absl's NDEBUG builds.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  security::SecurityOptions security;
  security.insecure = cfg->GetBool("security.insecure");
  if (security.insecure) spdlog::warn("{}", security::InsecureWarning(security, name));
  start.config = std::move(*cfg);
  return start;
}

int FailService(const std::string& name, const absl::Status& status, int code) {
  std::cerr << name << ": " << status.message() << "\n";
  return code;
}

void StopOnSignals(std::atomic<bool>* stop) {
  g_stop = stop;
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop->store(true); };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

namespace {
sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockStopSignals() {
  const sigset_t set = StopSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForStopSignal() {
  const sigset_t set = StopSet();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace r1rl::runtime
