// `r1rl admin ACTION`: the learner's Admin service from the command line, for a cluster on
// loopback (--name) or a learner anywhere (--controller host:port: Compose, Kubernetes).
//
//   r1rl admin status --name cluster            # the controller's status, workers included
//   r1rl admin pause|resume --controller learner:50051
//   r1rl admin drain --name cluster             # no new prompts; the learner finishes and exits 0
//   r1rl admin checkpoint --name cluster        # checkpoints/step-N now; prints its path
//
// Calls go over TLS with the admin token from the keys folder: --keys DIR, else the one
// `r1rl cluster up --name` made (runs/<name>/keys); --insecure for a security.insecure cluster.
// --json prints the reply as protobuf JSON. `r1rl health HOST:PORT` asks any service's
// grpc.health.v1.Health (learner, worker, grader): exit 0 when SERVING, for probes and scripts.
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/client_security.h"
#include "cli/cluster_processes.h"
#include "cli/command.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/security/grpc_security.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace r1rl::cli {
namespace {

struct AdminFlags {
  std::string action;
  std::string controller;
  std::string name = "cluster";
  bool json = false;
  int timeout_s = 600;
  ClientSecurityFlags security;
};

// --controller, else the learner's gRPC address in runs/<name>/cluster.json.
absl::StatusOr<std::string> ControllerAddress(const AdminFlags& f) {
  if (!f.controller.empty()) return f.controller;
  auto j = ReadClusterTable(f.name);
  if (absl::IsNotFound(j.status())) {
    return absl::NotFoundError(
        absl::StrCat(j.status().message(), "; or give --controller host:port"));
  }
  if (!j.ok() || (*j)["services"].empty() || !(*j)["services"][0].contains("grpc")) {
    return absl::InvalidArgumentError(
        absl::StrCat("runs/", f.name, "/cluster.json: no learner gRPC address in it"));
  }
  return (*j)["services"][0]["grpc"].get<std::string>();
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void PrintStatus(const v1::ControllerStatus& s) {
  std::cout << absl::StrFormat(
      "policy version %d%s%s; leases granted %d, expired %d, outstanding %d; groups ingested %d, "
      "duplicate %d, stale %d, "
      "unconsumed %d%s\n",
      s.policy_version(), s.paused() ? " (paused)" : "", s.draining() ? " (draining)" : "",
      s.leases_granted(), s.leases_expired(), s.leases_outstanding(), s.groups_ingested(),
      s.groups_duplicate(), s.groups_stale(), s.groups_unconsumed(),
      s.dataset_exhausted() ? "; dataset exhausted" : "");
  if (s.last_checkpoint_step() >= 0) {
    std::cout << absl::StrFormat("last checkpoint: step %d, %s\n", s.last_checkpoint_step(),
                                 s.last_checkpoint_path());
  }
  std::vector<std::string> rejected;
  for (const auto& [k, v] : s.rejected()) rejected.push_back(absl::StrCat(k, " ", v));
  if (!rejected.empty()) std::cout << "rejected: " << absl::StrJoin(rejected, ", ") << "\n";
  std::cout << absl::StrFormat("%-14s %-5s %-8s %-5s %-10s %-8s %s\n", "WORKER", "LIVE", "VERSION",
                               "LAG", "TOKENS/S", "GROUPS", "HOST");
  for (const v1::WorkerInfo& w : s.worker_info()) {
    std::cout << absl::StrFormat("%-14s %-5s %-8d %-5d %-10.0f %-8d %s\n", w.worker_id(),
                                 w.live() ? "yes" : "no", w.policy_version(),
                                 s.policy_version() - w.policy_version(), w.tokens_per_second(),
                                 w.groups_pushed(), w.host());
  }
}

int Run(const AdminFlags& f) {
  auto address = ControllerAddress(f);
  if (!address.ok()) return Fail("admin", address.status());
  auto security = f.security.Resolve(f.name);
  if (!security.ok()) return Fail("admin", security.status());
  auto channel = security::OpenChannel(*address, *security, security::Role::kAdmin);
  if (!channel.ok()) return Fail("admin", channel.status());
  auto stub = v1::Admin::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(f.timeout_s));
  grpc::Status rpc;
  if (f.action == "checkpoint") {
    v1::CheckpointRequest req;
    req.set_timeout_ms(f.timeout_s * 1000);
    v1::CheckpointResponse resp;
    rpc = stub->CheckpointNow(&ctx, req, &resp);
    if (rpc.ok())
      std::cout << (f.json
                        ? ToJson(resp)
                        : absl::StrFormat("checkpoint: step %d in %s\n", resp.step(), resp.path()));
  } else {
    v1::AdminRequest req;
    v1::ControllerStatus resp;
    if (f.action == "pause") rpc = stub->Pause(&ctx, req, &resp);
    if (f.action == "resume") rpc = stub->Resume(&ctx, req, &resp);
    if (f.action == "drain") rpc = stub->Drain(&ctx, req, &resp);
    if (f.action == "status") rpc = stub->Status(&ctx, req, &resp);
    if (rpc.ok()) {
      if (f.json) {
        std::cout << ToJson(resp);
      } else {
        PrintStatus(resp);
      }
    }
  }
  if (!rpc.ok()) {
    return Fail("admin", absl::UnavailableError(
                             absl::StrCat(f.action, " at ", *address, ": ", rpc.error_message())));
  }
  return 0;
}

struct HealthFlags {
  std::string address, service, name = "cluster";
  int timeout_s = 5;
  ClientSecurityFlags security;
};

int Health(const HealthFlags& f) {
  const std::string& address = f.address;
  auto security = f.security.Resolve(f.name);
  if (!security.ok()) return Fail("health", security.status());
  auto channel = security::OpenChannel(address, *security, security::Role::kAdmin);
  if (!channel.ok()) return Fail("health", channel.status());
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(f.timeout_s));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(f.service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) {
    std::cerr << "health: " << address << ": " << s.error_message() << "\n";
    return 1;
  }
  std::cout << address << ": "
            << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()) << "\n";
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace

void RegisterAdmin(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<AdminFlags>();
  CLI::App* cmd = root.add_subcommand(
      "admin", "The learner's Admin service: status, pause, resume, drain, checkpoint");
  cmd->add_option("action", flags->action, "status | pause | resume | drain | checkpoint")
      ->required()
      ->check(CLI::IsMember({"status", "pause", "resume", "drain", "checkpoint"}));
  cmd->add_option("--controller", flags->controller, "The learner's gRPC address (host:port)");
  cmd->add_option("--name", flags->name,
                  "A local cluster's name (runs/<name>), when no --controller")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeout_s,
                  "Seconds to wait for the answer (checkpoint: for the step in flight)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--json", flags->json, "The reply as protobuf JSON");
  flags->security.AddTo(cmd);
  cmd->callback([flags, result] { result->exit_code = Run(*flags); });

  auto health = std::make_shared<HealthFlags>();
  CLI::App* h =
      root.add_subcommand("health", "Ask a service's grpc.health.v1 (exit 0 when SERVING)");
  h->add_option("address", health->address, "host:port of its gRPC")->required();
  h->add_option("--service", health->service, "The service name to ask about (\"\": the server)");
  h->add_option("--timeout", health->timeout_s, "Seconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  h->add_option("--name", health->name, "A local cluster whose keys to use, when no --keys")
      ->capture_default_str();
  health->security.AddTo(h);
  h->callback([health, result] { result->exit_code = Health(*health); });
}

}  // namespace r1rl::cli
