// `r1rl cluster up|status|down`: the four service binaries as local processes on loopback
// (learner + controller, rollout workers, reward graders, param-broadcast), addresses from
// one config, logs in runs/<name>/logs/, the process table in runs/<name>/cluster.json.
//
//   r1rl cluster up --workers 2 --graders 2 [--learners N] [--name NAME] [--config F]
//                   [--set k=v] [--wait]
//                   [--no-broadcast]   (workers fetch weights from the learner instead)
//
// --learners N starts N data-parallel learner ranks (rank 0 "learner" with the controller,
// "learner-rank-1".. the others, meeting at a loopback rendezvous port).
//   r1rl cluster status [--name NAME] [--json]
//   r1rl cluster down [--name NAME]
//
// Secure by default: `up` makes a keys folder in runs/<name>/keys (r1rl keys init) and every
// service uses it (TLS + role tokens on gRPC), unless the config names its own
// security.keys_dir or sets security.insecure. `r1rl admin --name` finds the keys there.
//
// Defaults are configs/cluster.yaml (built in). `up` starts fresh in runs/<name> (the
// previous run's buffer, metrics and checkpoints there are replaced) and returns once every
// service answers /healthz; with --wait it stays until the learner finishes its steps, then
// takes the rest down and exits with the learner's status.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cluster_processes.h"
#include "cli/command.h"
#include "cli/demo/demo_data.h"
#include "cli/demo_defaults.h"
#include "lib/metrics/scrape.h"
#include "lib/security/keys.h"
#include "lib/security/security_options.h"

namespace r1rl::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using std::chrono::milliseconds;

struct ClusterFlags {
  ConfigFlags config;
  int workers = 1;
  int graders = 1;
  int learners = 1;  // data-parallel learner ranks
  std::string name = "cluster";
  bool wait = false;
  bool json = false;
  bool no_broadcast = false;
};

std::string RunDir(const std::string& name) { return "runs/" + name; }

bool AnyAlive(const Json& table) {
  for (const auto& s : table["services"]) {
    if (Alive(s.value("pid", 0))) return true;
  }
  return false;
}

// The shipped base model: in the working directory, else in the source tree.
std::string ShippedBase() {
  if (fs::exists("assets/demo-base/config.json")) return "assets/demo-base";
  return (fs::path(kSourceDir) / "assets/demo-base").string();
}

int Down(const std::string& name, bool quiet) {
  auto table = ReadClusterTable(name);
  if (!table.ok()) return Fail("cluster down", table.status());
  // Workers first (nothing more is sampled), then graders, then the learner (it saves), then
  // the broadcast.
  // Rank 0 before the other learner ranks: it tells them the run is over.
  for (const char* kind :
       {"rollout_worker", "reward_grader", "learner", "learner_rank", "param_broadcast"}) {
    for (const auto& s : (*table)["services"]) {
      if (s["kind"] != kind) continue;
      const pid_t pid = s.value("pid", 0);
      const bool alive = Alive(pid);
      const bool killed =
          alive &&
          Stop(pid, milliseconds(std::string(kind).rfind("learner", 0) == 0 ? 30000 : 10000));
      if (!quiet) {
        std::cout << absl::StrFormat("%-10s pid %-7d %s\n", s.value("name", ""), pid,
                                     !alive   ? "was not running"
                                     : killed ? "killed (did not stop in time)"
                                              : "stopped");
      }
    }
  }
  return 0;
}

int Up(const ClusterFlags& f) {
  if (f.workers < 1 || f.workers > 64)
    return Fail("cluster up", absl::InvalidArgumentError(
                                  absl::StrCat("--workers = ", f.workers, ": must be in 1..64")));
  if (f.graders < 1 || f.graders > 64)
    return Fail("cluster up", absl::InvalidArgumentError(
                                  absl::StrCat("--graders = ", f.graders, ": must be in 1..64")));
  if (f.learners < 1 || f.learners > 64)
    return Fail("cluster up", absl::InvalidArgumentError(
                                  absl::StrCat("--learners = ", f.learners, ": must be in 1..64")));
  if (auto old = ReadClusterTable(f.name); old.ok() && AnyAlive(*old)) {
    return Fail("cluster up",
                absl::FailedPreconditionError(absl::StrCat(
                    "cluster ", f.name, " is up (r1rl cluster status/down --name ", f.name, ")")));
  }
  auto cfg = config::Config::FromYaml(kClusterDefaultsYaml, "configs/cluster.yaml (built in)");
  if (!cfg.ok()) return Fail("cluster up", cfg.status());
  auto user = f.config.Load();
  if (!user.ok()) return Fail("cluster up", user.status());
  cfg->Merge(*user);

  const std::string dir = RunDir(f.name);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir + "/logs", ec);
  if (ec)
    return Fail("cluster up",
                absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message())));
  std::vector<std::string> sets = {"learner.run_dir=" + dir};
  if (cfg->GetString("learner.data").empty()) {
    if (auto s = demo::WritePrompts(dir + "/prompts.jsonl",
                                    static_cast<uint64_t>(cfg->GetInt("generation.seed")), 4096);
        !s.ok()) {
      return Fail("cluster up", s);
    }
    sets.push_back("learner.data=" + dir + "/prompts.jsonl");
  }
  if (!user->IsSet("worker.prompts_per_lease")) {  // every worker gets a share of a step
    sets.push_back(
        absl::StrCat("worker.prompts_per_lease=",
                     std::max<int64_t>(1, cfg->GetInt("grpo.prompts_per_step") / f.workers)));
  }
  if (cfg->GetString("learner.model").empty()) sets.push_back("learner.model=" + ShippedBase());
  if (cfg->GetString("worker.model").empty()) {
    sets.push_back("worker.model=" + (cfg->GetString("learner.model").empty()
                                          ? ShippedBase()
                                          : cfg->GetString("learner.model")));
  }
  int ports[9];
  for (int& p : ports) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return Fail("cluster up", port.status());
    p = *port;
  }
  const std::string grpc = absl::StrCat("127.0.0.1:", ports[0]);
  sets.push_back("learner.grpc_address=" + grpc);
  sets.push_back(absl::StrCat("learner.rollouts_address=tcp://127.0.0.1:", ports[1]));
  sets.push_back(absl::StrCat("learner.graders_address=tcp://127.0.0.1:", ports[2]));
  sets.push_back(absl::StrCat("learner.ingest_address=tcp://127.0.0.1:", ports[3]));
  sets.push_back(absl::StrCat("learner.metrics_address=127.0.0.1:", ports[4]));
  sets.push_back("worker.controller=" + grpc);
  sets.push_back(absl::StrCat("worker.output=tcp://127.0.0.1:", ports[1]));
  sets.push_back(absl::StrCat("grader.input=tcp://127.0.0.1:", ports[2]));
  sets.push_back(absl::StrCat("grader.output=tcp://127.0.0.1:", ports[3]));
  if (!f.no_broadcast) {
    sets.push_back(absl::StrCat("broadcast.address=127.0.0.1:", ports[6]));
    sets.push_back(absl::StrCat("broadcast.grpc_address=127.0.0.1:", ports[6]));
    sets.push_back(absl::StrCat("broadcast.chunk_address=tcp://127.0.0.1:", ports[7]));
    sets.push_back(absl::StrCat("broadcast.metrics_address=127.0.0.1:", ports[8]));
    sets.push_back("broadcast.advertise_host=127.0.0.1");
    sets.push_back("worker.relay_address=tcp://127.0.0.1:0");
    sets.push_back("worker.advertise_host=127.0.0.1");
  } else {
    sets.push_back("broadcast.address=");
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (f.learners > 1) {
    sets.push_back(absl::StrCat("learner.world_size=", f.learners));
    sets.push_back("learner.master_addr=127.0.0.1");
    sets.push_back(absl::StrCat("learner.master_port=", ports[5]));
  }
  if (!cfg->GetBool("security.insecure") && cfg->GetString("security.keys_dir").empty()) {
    const std::string keys = fs::absolute(dir + "/keys").string();
    if (auto s = security::InitKeys(keys, {}); !s.ok()) return Fail("cluster up", s);
    sets.push_back("security.keys_dir=" + keys);
  }
  for (const std::string& s : sets) {
    if (auto st = cfg->Set(s); !st.ok()) return Fail("cluster up", st);
  }
  auto security = security::SecurityFromConfig(*cfg);
  if (!security.ok()) return Fail("cluster up", security.status());
  if (security->insecure) std::cerr << security::InsecureWarning(*security, "cluster up") << "\n";
  const std::string config_path = dir + "/config.yaml";
  std::ofstream(config_path) << "# r1rl cluster up: the effective configuration of every service\n"
                             << cfg->ToYaml();

  const std::string bin = SelfDir();
  Json table;
  table["name"] = f.name;
  table["run_dir"] = dir;
  table["config"] = config_path;
  table["security"] = {{"insecure", security->insecure},
                       {"keys_dir", security->keys_dir},
                       {"mtls", security->mtls},
                       {"metrics_token", security->metrics_token}};
  table["services"] = Json::array();
  auto spawn = [&](const std::string& name, const std::string& kind, const std::string& binary,
                   std::vector<std::string> extra, int metrics_port) -> absl::Status {
    std::vector<std::string> argv = {bin + "/" + binary, "--config", config_path};
    for (std::string& e : extra) {
      argv.push_back("--set");
      argv.push_back(std::move(e));
    }
    const std::string log = dir + "/logs/" + name + ".log";
    auto pid = SpawnDetached(argv, log);
    if (!pid.ok()) return pid.status();
    Json s;
    s["name"] = name;
    s["kind"] = kind;
    s["pid"] = *pid;
    s["metrics"] = absl::StrCat("127.0.0.1:", metrics_port);
    s["log"] = log;
    table["services"].push_back(s);
    return absl::OkStatus();
  };
  auto fail_up = [&](const absl::Status& s) {
    std::ofstream(dir + "/cluster.json") << table.dump(2) << "\n";
    Down(f.name, true);
    return Fail("cluster up", s);
  };
  // Learner ranks share the cores with each other (the workers and graders come on top).
  const std::string learner_threads =
      absl::StrCat("runtime.threads=", f.learners > 1 ? std::max(1, cores / f.learners) : 0);
  if (auto s = spawn("learner", "learner", "r1rl-learner",
                     f.learners > 1 ? std::vector<std::string>{"learner.rank=0", learner_threads}
                                    : std::vector<std::string>{},
                     ports[4]);
      !s.ok())
    return fail_up(s);
  table["services"][0]["grpc"] = grpc;
  for (int r = 1; r < f.learners; ++r) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return fail_up(port.status());
    if (auto s = spawn(absl::StrCat("learner-rank-", r), "learner_rank", "r1rl-learner",
                       {absl::StrCat("learner.rank=", r), learner_threads,
                        absl::StrCat("learner.metrics_address=127.0.0.1:", *port)},
                       *port);
        !s.ok())
      return fail_up(s);
  }
  if (!f.no_broadcast) {
    if (auto s = spawn("broadcast", "param_broadcast", "r1rl-param-broadcast", {}, ports[8]);
        !s.ok())
      return fail_up(s);
    table["services"].back()["grpc"] = absl::StrCat("127.0.0.1:", ports[6]);
  }
  for (int i = 1; i <= f.graders; ++i) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return fail_up(port.status());
    if (auto s = spawn(absl::StrCat("grader-", i), "reward_grader", "r1rl-reward-grader",
                       {absl::StrCat("grader.id=grader-", i),
                        absl::StrCat("grader.metrics_address=127.0.0.1:", *port),
                        "grader.grpc_address=127.0.0.1:0"},
                       *port);
        !s.ok()) {
      return fail_up(s);
    }
  }
  // The workers share the cores: with N >= 2 each gets cores / N OpenBLAS threads and one
  // LibTorch thread, rather than N pools spinning on every core (docs/benchmarks.md).
  for (int i = 1; i <= f.workers; ++i) {
    auto port = FreeLoopbackPort();
    if (!port.ok()) return fail_up(port.status());
    if (auto s =
            spawn(absl::StrCat("worker-", i), "rollout_worker", "r1rl-rollout-worker",
                  {absl::StrCat("worker.id=worker-", i),
                   absl::StrCat("worker.metrics_address=127.0.0.1:", *port),
                   "worker.grpc_address=127.0.0.1:0",
                   absl::StrCat("runtime.threads=", f.workers > 1 ? 1 : 0),
                   absl::StrCat("runtime.blas_threads=",
                                f.workers > 1 ? std::max(1, cores / f.workers) : 0),
                   absl::StrCat("generation.seed=", cfg->GetInt("generation.seed") + 1000 * i)},
                  *port);
        !s.ok()) {
      return fail_up(s);
    }
  }
  std::ofstream(dir + "/cluster.json") << table.dump(2) << "\n";

  // Up = every service answers /healthz (a dead one: its log's end, and down).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (const auto& s : table["services"]) {
    while (true) {
      if (metrics::HttpGet(s["metrics"], "/healthz", milliseconds(500)).ok()) break;
      if (!Alive(s["pid"]) || std::chrono::steady_clock::now() > deadline) {
        std::ifstream log(s["log"].get<std::string>());
        std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        std::cerr << "--- " << s["log"].get<std::string>() << " (end) ---\n"
                  << text.substr(text.size() > 2000 ? text.size() - 2000 : 0) << "\n";
        return fail_up(
            absl::UnavailableError(absl::StrCat(s["name"].get<std::string>(), " did not come up")));
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  std::cout << absl::StrFormat(
                   "cluster %s up: learner (%d rank%s), %d graders, %d workers on loopback; logs "
                   "in %s/logs, metrics.jsonl in %s\n",
                   f.name, f.learners, f.learners > 1 ? "s" : "", f.graders, f.workers, dir, dir)
            << "  r1rl cluster status --name " << f.name << "\n  r1rl cluster down --name "
            << f.name << "\n"
            << std::flush;
  if (!f.wait) return 0;
  int status = 0;
  waitpid(table["services"][0]["pid"].get<pid_t>(), &status, 0);
  Down(f.name, true);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::cout << "cluster " << f.name << ": learner exited with status " << code
            << "; services stopped\n";
  return code;
}

double Get(const metrics::Samples& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? std::nan("") : it->second;
}

int Status(const ClusterFlags& f) {
  auto table = ReadClusterTable(f.name);
  if (!table.ok()) return Fail("cluster status", table.status());
  Json out = Json::array();
  // The metrics token, when the cluster's /metrics asks for one.
  std::string metrics_token;
  if (table->contains("security") && (*table)["security"].value("metrics_token", false)) {
    security::SecurityOptions o;
    o.keys_dir = (*table)["security"].value("keys_dir", "");
    auto token = security::ClientToken(o, security::Role::kMetrics);
    if (!token.ok()) return Fail("cluster status", token.status());
    metrics_token = *token;
  }
  if (!f.json) {
    std::cout << absl::StrFormat("%-10s %-7s %-5s %-7s %-8s %-6s %s\n", "SERVICE", "PID", "STATE",
                                 "HEALTH", "VERSION", "LAG", "THROUGHPUT");
  }
  for (const auto& s : (*table)["services"]) {
    const std::string kind = s["kind"];
    const bool alive = Alive(s["pid"]);
    const std::string endpoint = s.value("metrics", "");
    absl::StatusOr<std::string> health = absl::UnavailableError("no endpoint");
    absl::StatusOr<std::string> text = absl::UnavailableError("no endpoint");
    if (!endpoint.empty()) {
      health = metrics::HttpGet(endpoint, "/healthz", milliseconds(1000));
      text = metrics::HttpGet(endpoint, "/metrics", milliseconds(2000), metrics_token);
    }
    const metrics::Samples m = text.ok() ? metrics::ParseText(*text) : metrics::Samples{};
    double version = std::nan(""), lag = std::nan("");
    std::string throughput;
    if (kind == "learner") {
      version = Get(m, "r1rl_learner_policy_version");
      lag = Get(m, "r1rl_learner_sample_lag");
      throughput = absl::StrFormat(
          "%.1f samples/s, %.0f steps, %.0f workers, %.0f leases out, reward %.2f",
          Get(m, "r1rl_learner_samples_per_second"), Get(m, "r1rl_learner_steps_total"),
          Get(m, "r1rl_controller_state{quantity=\"workers\"}"),
          Get(m, "r1rl_controller_state{quantity=\"leases_outstanding\"}"),
          Get(m, "r1rl_learner_reward{component=\"total\"}"));
    } else if (kind == "learner_rank") {
      version = Get(m, "r1rl_learner_policy_version");
      throughput =
          absl::StrFormat("data-parallel rank, %.0f steps", Get(m, "r1rl_learner_steps_total"));
    } else if (kind == "rollout_worker") {
      version = Get(m, "r1rl_worker_policy_version");
      lag = Get(m, "r1rl_worker_policy_lag");
      throughput = absl::StrFormat("%.0f tokens/s, %.0f groups",
                                   Get(m, "r1rl_worker_tokens_generated_total") /
                                       Get(m, "r1rl_worker_generate_seconds_total"),
                                   Get(m, "r1rl_worker_groups_pushed_total"));
    } else if (kind == "param_broadcast") {
      version = Get(m, "r1rl_broadcast_newest_version");
      throughput = absl::StrFormat(
          "%.0f receivers, last version to all in %.2f s, %.2f copies sent, %.0f MB relayed",
          Get(m, "r1rl_broadcast_receivers"), Get(m, "r1rl_broadcast_last_seconds_to_all"),
          Get(m, "r1rl_broadcast_newest_copies_sent"),
          Get(m, "r1rl_broadcast_bytes_relayed_total") / 1e6);
    } else {
      lag = Get(m, "r1rl_grader_queue_depth");
      throughput = absl::StrFormat("%.0f groups graded", Get(m, "r1rl_grader_groups_graded_total"));
    }
    if (f.json) {
      Json j = s;
      j["alive"] = alive;
      j["healthy"] = health.ok();
      j["policy_version"] = std::isnan(version) ? Json() : Json(version);
      j["lag"] = std::isnan(lag) ? Json() : Json(lag);
      j["throughput"] = throughput;
      out.push_back(j);
      continue;
    }
    auto num = [](double v) {
      return std::isnan(v) ? std::string("-") : absl::StrFormat("%.0f", v);
    };
    std::cout << absl::StrFormat("%-10s %-7d %-5s %-7s %-8s %-6s %s\n",
                                 s["name"].get<std::string>(), s["pid"].get<int>(),
                                 alive ? "up" : "down", health.ok() ? "ok" : "-", num(version),
                                 num(lag), text.ok() ? throughput : "-");
  }
  if (f.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

void RegisterCluster(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<ClusterFlags>();
  CLI::App* cmd = root.add_subcommand(
      "cluster", "Run the services as local processes on loopback: up, status, down, prompts");
  cmd->require_subcommand(1);
  CLI::App* up = cmd->add_subcommand(
      "up", "Start a learner, graders and rollout workers (configs/cluster.yaml)");
  flags->config.AddTo(up);
  up->add_option("--workers", flags->workers, "Rollout worker processes")->capture_default_str();
  up->add_option("--graders", flags->graders, "Reward grader processes")->capture_default_str();
  up->add_option("--learners", flags->learners,
                 "Data-parallel learner ranks (c10d; rank 0 runs the controller)")
      ->capture_default_str();
  up->add_flag("--wait", flags->wait, "Stay until the learner is done, then stop everything");
  up->add_flag("--no-broadcast", flags->no_broadcast,
               "No param-broadcast service: workers fetch weights from the learner");
  CLI::App* status = cmd->add_subcommand(
      "status", "Every service: process, health, policy version, lag, throughput");
  status->add_flag("--json", flags->json, "One JSON array instead of a table");
  CLI::App* down = cmd->add_subcommand(
      "down", "Stop every service (workers, graders, the learner, the broadcast)");
  auto prompts = std::make_shared<std::pair<std::string, int>>("prompts.jsonl", 4096);
  auto seed = std::make_shared<uint64_t>(1);
  CLI::App* write = cmd->add_subcommand(
      "prompts", "Write the demo task's prompts (learner.data) as `up` does, for a deployment");
  write->add_option("--out", prompts->first, "JSONL file to write")->capture_default_str();
  write->add_option("--count", prompts->second, "Prompts")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  write->add_option("--seed", *seed, "generation.seed of the run")->capture_default_str();
  write->callback([prompts, seed, result] {
    auto s = demo::WritePrompts(prompts->first, *seed, prompts->second);
    result->exit_code = s.ok() ? 0 : Fail("cluster prompts", s);
    if (s.ok()) std::cout << prompts->second << " prompts in " << prompts->first << "\n";
  });
  for (CLI::App* c : {up, status, down})
    c->add_option("--name", flags->name, "Cluster name (runs/<name>)")->capture_default_str();
  up->callback([flags, result] { result->exit_code = Up(*flags); });
  status->callback([flags, result] { result->exit_code = Status(*flags); });
  down->callback([flags, result] { result->exit_code = Down(flags->name, false); });
}

}  // namespace r1rl::cli
