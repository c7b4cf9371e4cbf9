#include "lib/controller/controller_service.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace r1rl::learner {
namespace {

using Clock = std::chrono::steady_clock;

int64_t UnixMillis(Clock::time_point t) {
  const auto now_sys = std::chrono::system_clock::now();
  const auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
  return std::chrono::duration_cast<std::chrono::milliseconds>((now_sys + delta).time_since_epoch())
      .count();
}

// The dataset row's reward JSON as the proto the worker forwards to the grader.
v1::RewardSpec RewardProto(const std::string& reward_json) {
  v1::RewardSpec p;
  const nlohmann::json j = nlohmann::json::parse(reward_json, nullptr, false);
  if (!j.is_object()) return p;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  p.set_kind(str("kind"));
  p.set_answer(j.contains("answer") && j["answer"].is_number() ? j["answer"].dump()
                                                               : str("answer"));
  p.set_language(str("language"));
  p.set_test_script(str("test_script"));
  p.set_cot_language(str("cot_language"));
  if (j.contains("all_or_nothing") && j["all_or_nothing"].is_boolean())
    p.set_all_or_nothing(j["all_or_nothing"].get<bool>());
  if (j.contains("tests") && j["tests"].is_array()) {
    for (const auto& t : j["tests"]) {
      auto* test = p.add_tests();
      test->set_stdin(t.value("stdin", ""));
      test->set_stdout(t.value("stdout", ""));
    }
  }
  return p;
}

}  // namespace

grpc::Status ControllerService::KnownWorker(const std::string& id) {
  if (core_.workers.Touch(id)) return grpc::Status::OK;
  const std::string msg = absl::StrCat("worker_id = \"", id, "\": not registered");
  core_.Reject("unknown_worker", msg);
  return {grpc::StatusCode::NOT_FOUND, msg};
}

grpc::Status ControllerService::BadRequest(const std::string& message) {
  core_.Reject("bad_request", message);
  return {grpc::StatusCode::INVALID_ARGUMENT, message};
}

grpc::Status ControllerService::Register(grpc::ServerContext*, const v1::RegisterRequest* req,
                                         v1::RegisterResponse* resp) {
  RpcTimer timer(core_.m.rpc_seconds, "Register");
  if (req->worker_id().size() > 256) return BadRequest("worker_id: longer than 256 bytes");
  if (req->host().size() > 256) return BadRequest("host: longer than 256 bytes");
  const std::string id = core_.workers.Register(req->worker_id(), req->host());
  resp->set_worker_id(id);
  resp->set_policy_version(core_.policy_version);
  resp->set_heartbeat_interval_ms(static_cast<int32_t>(core_.options.heartbeat_interval.count()));
  resp->set_group_size(core_.options.group_size);
  resp->set_broadcast_address(core_.options.broadcast_address);
  spdlog::info("controller: worker {} registered ({})", id, req->host());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  RpcTimer timer(core_.m.rpc_seconds, "Heartbeat");
  if (auto s = KnownWorker(req->worker_id()); !s.ok()) return s;
  resp->set_policy_version(core_.policy_version);
  std::lock_guard<std::mutex> lock(core_.mu);
  resp->set_paused(core_.paused);
  return grpc::Status::OK;
}

grpc::Status ControllerService::ReportStatus(grpc::ServerContext*, const v1::WorkerReport* req,
                                             v1::ReportStatusResponse* resp) {
  RpcTimer timer(core_.m.rpc_seconds, "ReportStatus");
  if (auto s = KnownWorker(req->worker_id()); !s.ok()) return s;
  if (req->tokens_generated() < 0 || req->groups_pushed() < 0 || req->weight_fetches() < 0 ||
      !(req->generate_seconds() >= 0) || req->metrics_address().size() > 256 ||
      req->grpc_address().size() > 256) {
    return BadRequest(absl::StrCat("report from ", req->worker_id(),
                                   ": tokens_generated = ", req->tokens_generated(),
                                   ", groups_pushed = ", req->groups_pushed(),
                                   ", generate_seconds = ", req->generate_seconds(),
                                   ": counters must be >= 0, addresses <= 256 bytes"));
  }
  core_.workers.Report(*req);
  resp->set_policy_version(core_.policy_version);
  std::lock_guard<std::mutex> lock(core_.mu);
  resp->set_paused(core_.paused);
  resp->set_draining(core_.draining);
  return grpc::Status::OK;
}

grpc::Status ControllerService::LeasePrompts(grpc::ServerContext* ctx,
                                             const v1::LeasePromptsRequest* req,
                                             v1::LeasePromptsResponse* resp) {
  RpcTimer timer(core_.m.rpc_seconds, "LeasePrompts");
  if (req->max_prompts() < 1 || req->max_prompts() > 1024) {
    return BadRequest(absl::StrCat("max_prompts = ", req->max_prompts(), ": must be in 1..1024"));
  }
  if (req->wait_ms() < 0 || req->wait_ms() > 30000) {
    return BadRequest(absl::StrCat("wait_ms = ", req->wait_ms(), ": must be in 0..30000"));
  }
  if (auto s = KnownWorker(req->worker_id()); !s.ok()) return s;
  const std::vector<Lease> granted =
      core_.Grant(req->worker_id(), req->max_prompts(), std::chrono::milliseconds(req->wait_ms()),
                  [ctx] { return ctx->IsCancelled(); });
  for (const Lease& l : granted) {
    v1::PromptLease* p = resp->add_leases();
    p->set_lease_id(l.lease_id);
    p->set_attempt(l.attempt);
    p->set_prompt_id(l.prompt.prompt_id);
    p->set_dataset_position(l.prompt.position);
    p->set_prompt(l.prompt.prompt);
    *p->mutable_reward() = RewardProto(l.prompt.reward_json);
    p->set_policy_version(l.policy_version);
    p->set_deadline_unix_ms(UnixMillis(l.deadline));
  }
  {
    std::lock_guard<std::mutex> lock(core_.mu);
    resp->set_paused(core_.paused);
  }
  const LeaseStats s = core_.leases->Stats();
  resp->set_policy_version(s.policy_version);
  // "Done" for a worker: no new prompts and none outstanding (an expired lease may still
  // come its way).
  resp->set_dataset_exhausted(s.dataset_exhausted && s.outstanding == 0);
  return grpc::Status::OK;
}

grpc::Status ControllerService::FetchWeights(grpc::ServerContext* ctx,
                                             const v1::FetchWeightsRequest* req,
                                             grpc::ServerWriter<v1::WeightsChunk>* writer) {
  RpcTimer timer(core_.m.rpc_seconds, "FetchWeights");
  if (auto s = KnownWorker(req->worker_id()); !s.ok()) return s;
  const auto w = core_.weights.Latest();
  if (!w) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "the learner has published no weights yet"};
  }
  bool cancelled = false;
  const int64_t sent = WeightStore::Stream(*w, [&](const v1::WeightsChunk& chunk) {
    if (ctx->IsCancelled() || !writer->Write(chunk)) {
      cancelled = true;
      return false;
    }
    core_.m.weight_bytes.Increment(static_cast<double>(chunk.data().size()));
    return true;
  });
  if (cancelled || sent < 0) return {grpc::StatusCode::CANCELLED, "the worker went away"};
  core_.m.weight_fetches.Increment();
  return grpc::Status::OK;
}

grpc::Status ControllerService::Pause(grpc::ServerContext*, const v1::AdminRequest*,
                                      v1::ControllerStatus* out) {
  RpcTimer timer(core_.m.rpc_seconds, "Pause");
  core_.SetPaused(true);
  *out = core_.Snapshot();
  return grpc::Status::OK;
}

grpc::Status ControllerService::Resume(grpc::ServerContext*, const v1::AdminRequest*,
                                       v1::ControllerStatus* out) {
  RpcTimer timer(core_.m.rpc_seconds, "Resume");
  core_.SetPaused(false);
  *out = core_.Snapshot();
  return grpc::Status::OK;
}

grpc::Status ControllerService::Status(grpc::ServerContext*, const v1::AdminRequest*,
                                       v1::ControllerStatus* out) {
  RpcTimer timer(core_.m.rpc_seconds, "Status");
  *out = core_.Snapshot();
  return grpc::Status::OK;
}

grpc::Status ControllerService::Drain(grpc::ServerContext*, const v1::AdminRequest*,
                                      v1::ControllerStatus* out) {
  RpcTimer timer(core_.m.rpc_seconds, "Drain");
  core_.Drain();
  *out = core_.Snapshot();
  return grpc::Status::OK;
}

grpc::Status ControllerService::CheckpointNow(grpc::ServerContext* ctx,
                                              const v1::CheckpointRequest* req,
                                              v1::CheckpointResponse* out) {
  RpcTimer timer(core_.m.rpc_seconds, "CheckpointNow");
  if (req->timeout_ms() < 0) {
    return BadRequest(absl::StrCat("timeout_ms = ", req->timeout_ms(), ": must be >= 0"));
  }
  const auto until =
      Clock::now() + std::chrono::milliseconds(req->timeout_ms() > 0 ? req->timeout_ms() : 600000);
  const int64_t ticket = core_.checkpoints.Request();
  auto saved =
      core_.checkpoints.Wait(ticket, until, [&] { return !core_.running || ctx->IsCancelled(); });
  if (!saved.ok()) {
    return {saved.status().code() == absl::StatusCode::kDeadlineExceeded
                ? grpc::StatusCode::DEADLINE_EXCEEDED
                : grpc::StatusCode::UNAVAILABLE,
            std::string(saved.status().message())};
  }
  out->set_step(saved->step);
  out->set_path(saved->path);
  return grpc::Status::OK;
}

}  // namespace r1rl::learner
