#include "lib/controller/controller_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/metrics/exposer.h"
#include "lib/metrics/metrics.h"
#include "lib/status/status_macros.h"
#include "lib/transport/sha256.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace r1rl::learner {
namespace {
constexpr char kResumeKey[] = "resume";  // the buffer meta key of the ResumePoint (JSON)

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

struct ControllerServer::State : public v1::Controller::Service, public v1::Admin::Service {
  ControllerOptions options;
  PromptDataset dataset;
  std::unique_ptr<RolloutBuffer> buffer;
  std::unique_ptr<LeaseManager> leases;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> ingest, rollouts, to_graders;
  std::string ingest_endpoint, rollouts_endpoint, graders_endpoint;
  std::thread ingest_thread, forward_thread;
  std::atomic<bool> running{true};
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  mutable std::mutex mu;  // workers, dataset, rejected, batch wait
  // Held from a group's write to the buffer to its lease's completion, and from a batch's
  // peek to its consumption, so the lease window's count of buffered groups never sees a
  // group consumed before it was counted in (that leaked a place per race: a stalled run).
  std::mutex ingest_mu;
  std::condition_variable ingested_cv;
  std::map<std::string, Clock::time_point> workers;
  std::map<std::string, std::string> worker_hosts;
  std::map<std::string, v1::WorkerReport> reports;  // each worker's last ReportStatus
  int64_t next_worker = 1;
  // Long polls (LeasePrompts with wait_ms) wait on it, under `mu`; woken when the window may
  // have opened (the version moved, groups discarded, resumed) and on shutdown.
  std::condition_variable lease_cv;
  // CheckpointNow: requests are numbered; the learner serves all pending ones at once.
  std::condition_variable checkpoint_cv;
  int64_t checkpoints_requested = 0;
  int64_t checkpoints_served = 0;
  int64_t last_checkpoint_step = -1;
  std::string last_checkpoint_path;
  bool draining = false;
  std::map<std::string, int64_t> rejected;
  std::atomic<int64_t> policy_version{0};
  std::optional<ResumePoint> resumed;
  bool paused = false;
  bool shut_down = false;

  // The newest published weights; FetchWeights streams a snapshot (a reader keeps its
  // shared_ptr while a newer version is published).
  struct Weights {
    int64_t version = -1;
    std::string bytes;
    std::string sha256;
  };
  mutable std::mutex weights_mu;
  std::shared_ptr<const Weights> weights;
  static constexpr size_t kChunkBytes = 1u << 20;

  metrics::Registry registry;
  metrics::Counter& m_ingested = registry
                                     .AddCounter("r1rl_controller_groups_ingested_total",
                                                 "Groups written to the rollout buffer.")
                                     .Add({});
  metrics::Counter& m_duplicate = registry
                                      .AddCounter("r1rl_controller_groups_duplicate_total",
                                                  "Groups for a lease already ingested (dropped).")
                                      .Add({});
  metrics::Counter& m_stale =
      registry
          .AddCounter("r1rl_controller_groups_stale_total",
                      "Groups consumed too old for the staleness bound (dropped).")
          .Add({});
  metrics::Family<metrics::Counter>& m_rejected =
      registry.AddCounter("r1rl_controller_rejected_total", "Rejected input, by reason.");
  metrics::Counter& m_forwarded =
      registry
          .AddCounter("r1rl_controller_rollouts_forwarded_total",
                      "Rollout groups forwarded from workers to graders.")
          .Add({});
  metrics::Counter& m_leases = registry
                                   .AddCounter("r1rl_controller_leases_granted_total",
                                               "Leases granted (first attempts and re-grants).")
                                   .Add({});
  metrics::Counter& m_expired =
      registry
          .AddCounter("r1rl_controller_leases_expired_total",
                      "Leases that passed their deadline (granted again).")
          .Add({});
  metrics::Counter& m_regranted =
      registry
          .AddCounter("r1rl_controller_leases_reissued_total",
                      "Expired leases granted again (same lease id, next attempt).")
          .Add({});
  std::atomic<int64_t> expired_exported{0}, regranted_exported{0};
  metrics::Counter& m_weight_fetches =
      registry
          .AddCounter("r1rl_controller_weight_fetches_total", "Weight streams served to workers.")
          .Add({});
  metrics::Counter& m_weight_bytes = registry
                                         .AddCounter("r1rl_controller_weight_bytes_sent_total",
                                                     "Weight bytes streamed to workers.")
                                         .Add({});
  metrics::Family<metrics::Gauge>& m_gauges =
      registry.AddGauge("r1rl_controller_state", "Controller state, by quantity.");
  std::unique_ptr<metrics::Exposer> exposer;

  void Reject(const std::string& reason, const std::string& detail) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++rejected[reason];
    }
    m_rejected.Add({{"reason", reason}}).Increment();
    spdlog::warn("controller: rejected ({}): {}", reason, detail);
  }

  // Workers heard from within a lease's duration (or three heartbeats, if longer): a
  // worker killed without a word stops counting once its leases would have expired.
  Clock::duration LiveHorizon() const {
    return std::max<Clock::duration>(options.leases.lease_duration, 3 * options.heartbeat_interval);
  }
  int64_t LiveWorkersLocked() const {
    const auto since = Clock::now() - LiveHorizon();
    int64_t n = 0;
    for (const auto& [id, seen] : workers) n += seen >= since;
    return n;
  }

  // The lease manager counts expiries and re-grants; the Prometheus counters follow them.
  static void ExportCount(metrics::Counter& counter, std::atomic<int64_t>& exported, int64_t now) {
    const int64_t before = exported.exchange(now);
    if (now > before) counter.Increment(static_cast<double>(now - before));
  }

  void RefreshGauges() {
    const LeaseStats s = leases->Stats();
    ExportCount(m_expired, expired_exported, s.expired);
    ExportCount(m_regranted, regranted_exported, s.regranted);
    m_gauges.Add({{"quantity", "policy_version"}}).Set(static_cast<double>(s.policy_version));
    m_gauges.Add({{"quantity", "leases_outstanding"}}).Set(static_cast<double>(s.outstanding));
    m_gauges.Add({{"quantity", "buffer_unconsumed"}})
        .Set(static_cast<double>(buffer->unconsumed()));
    std::lock_guard<std::mutex> lock(mu);
    m_gauges.Add({{"quantity", "workers"}}).Set(static_cast<double>(LiveWorkersLocked()));
  }

  void IngestLoop() {
    while (running) {
      zmq::message_t msg;
      zmq::recv_result_t got;
      try {
        got = ingest->recv(msg, zmq::recv_flags::none);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) break;
        continue;
      }
      if (!got) continue;
      if (msg.size() > options.max_message_bytes) {
        Reject("oversized", absl::StrCat("message of ", msg.size(), " bytes"));
        continue;
      }
      v1::RolloutGroup group;
      if (!group.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
        Reject("malformed",
               absl::StrCat("message of ", msg.size(), " bytes is not a RolloutGroup"));
        continue;
      }
      if (group.lease_id().empty()) {
        Reject("no_lease_id", "group without lease_id");
        continue;
      }
      if (!group.graded()) {
        Reject("not_graded", absl::StrCat("group ", group.lease_id(), " was not graded"));
        continue;
      }
      auto seen = buffer->HasLease(group.lease_id());
      if (seen.ok() && *seen) {
        m_duplicate.Increment();
        continue;
      }
      if (!leases->IsActive(group.lease_id())) {
        Reject("unknown_lease", absl::StrCat("lease_id = \"", group.lease_id(),
                                             "\": not granted by this controller"));
        continue;
      }
      std::unique_lock<std::mutex> ingest_lock(ingest_mu);
      auto r = buffer->Ingest(group);
      if (!r.ok()) {
        spdlog::error("controller: ingest of {} failed: {}", group.lease_id(),
                      std::string(r.status().message()));
        continue;
      }
      if (*r == IngestResult::kStored) {
        leases->Completed(group.lease_id());
        ingest_lock.unlock();
        m_ingested.Increment();
        ingested_cv.notify_all();
      } else {
        m_duplicate.Increment();
      }
    }
  }

  // Workers' rollouts to the graders, as they come (ZeroMQ fair-queues the workers and
  // round-robins the graders).
  void ForwardLoop() {
    while (running) {
      zmq::message_t msg;
      zmq::recv_result_t got;
      try {
        got = rollouts->recv(msg, zmq::recv_flags::none);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) break;
        continue;
      }
      if (!got) continue;
      while (running) {  // no grader connected yet: wait for one
        try {
          if (to_graders->send(msg, zmq::send_flags::none)) {
            m_forwarded.Increment();
            break;
          }
        } catch (const zmq::error_t& e) {
          if (e.num() == ETERM) return;
        }
      }
    }
  }

  grpc::Status CheckWorker(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    if (workers.count(id) == 0) {
      return {grpc::StatusCode::NOT_FOUND,
              absl::StrCat("worker_id = \"", id, "\": not registered")};
    }
    workers[id] = Clock::now();
    return grpc::Status::OK;
  }

  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* req,
                        v1::RegisterResponse* resp) override {
    std::string id = req->worker_id();
    if (id.size() > 256) {
      Reject("bad_request", "worker_id longer than 256 bytes");
      return {grpc::StatusCode::INVALID_ARGUMENT, "worker_id: longer than 256 bytes"};
    }
    if (req->host().size() > 256) {
      Reject("bad_request", "host longer than 256 bytes");
      return {grpc::StatusCode::INVALID_ARGUMENT, "host: longer than 256 bytes"};
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (id.empty()) id = absl::StrCat("worker-", next_worker++);
      workers[id] = Clock::now();
      worker_hosts[id] = req->host();
    }
    resp->set_worker_id(id);
    resp->set_policy_version(policy_version);
    resp->set_heartbeat_interval_ms(static_cast<int32_t>(options.heartbeat_interval.count()));
    resp->set_group_size(options.group_size);
    spdlog::info("controller: worker {} registered ({})", id, req->host());
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override {
    if (auto s = CheckWorker(req->worker_id()); !s.ok()) {
      Reject("unknown_worker", s.error_message());
      return s;
    }
    resp->set_policy_version(policy_version);
    std::lock_guard<std::mutex> lock(mu);
    resp->set_paused(paused);
    return grpc::Status::OK;
  }

  grpc::Status ReportStatus(grpc::ServerContext*, const v1::WorkerReport* req,
                            v1::ReportStatusResponse* resp) override {
    if (auto s = CheckWorker(req->worker_id()); !s.ok()) {
      Reject("unknown_worker", s.error_message());
      return s;
    }
    if (req->tokens_generated() < 0 || req->groups_pushed() < 0 || req->weight_fetches() < 0 ||
        !(req->generate_seconds() >= 0) || req->metrics_address().size() > 256 ||
        req->grpc_address().size() > 256) {
      const std::string msg = absl::StrCat("report from ", req->worker_id(),
                                           ": tokens_generated = ", req->tokens_generated(),
                                           ", groups_pushed = ", req->groups_pushed(),
                                           ", generate_seconds = ", req->generate_seconds(),
                                           ": counters must be >= 0, addresses <= 256 bytes");
      Reject("bad_request", msg);
      return {grpc::StatusCode::INVALID_ARGUMENT, msg};
    }
    resp->set_policy_version(policy_version);
    std::lock_guard<std::mutex> lock(mu);
    reports[req->worker_id()] = *req;
    resp->set_paused(paused);
    resp->set_draining(draining);
    return grpc::Status::OK;
  }

  grpc::Status LeasePrompts(grpc::ServerContext* ctx, const v1::LeasePromptsRequest* req,
                            v1::LeasePromptsResponse* resp) override {
    if (req->max_prompts() < 1 || req->max_prompts() > 1024) {
      const std::string msg =
          absl::StrCat("max_prompts = ", req->max_prompts(), ": must be in 1..1024");
      Reject("bad_request", msg);
      return {grpc::StatusCode::INVALID_ARGUMENT, msg};
    }
    if (req->wait_ms() < 0 || req->wait_ms() > 30000) {
      const std::string msg = absl::StrCat("wait_ms = ", req->wait_ms(), ": must be in 0..30000");
      Reject("bad_request", msg);
      return {grpc::StatusCode::INVALID_ARGUMENT, msg};
    }
    if (auto s = CheckWorker(req->worker_id()); !s.ok()) {
      Reject("unknown_worker", s.error_message());
      return s;
    }
    std::vector<Lease> granted;
    {
      const auto until = Clock::now() + std::chrono::milliseconds(req->wait_ms());
      std::unique_lock<std::mutex> lock(mu);  // the dataset is read under it
      while (true) {
        if (!options.lease_after_weights || HasWeights()) {
          granted = leases->Grant(req->worker_id(), req->max_prompts(), Clock::now());
        }
        if (!granted.empty() || paused || !running || ctx->IsCancelled() || Clock::now() >= until)
          break;
        const LeaseStats ls = leases->Stats();
        if ((ls.dataset_exhausted || ls.draining) && ls.outstanding == 0) break;
        // Expiry is by the clock: look again at least every 100 ms.
        lease_cv.wait_until(lock, std::min(until, Clock::now() + std::chrono::milliseconds(100)));
      }
      resp->set_paused(paused);
    }
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
    m_leases.Increment(static_cast<double>(granted.size()));
    const LeaseStats s = leases->Stats();
    resp->set_policy_version(s.policy_version);
    // "Done" for a worker: no new prompts and none outstanding (an expired lease may still
    // come its way).
    resp->set_dataset_exhausted(s.dataset_exhausted && s.outstanding == 0);
    return grpc::Status::OK;
  }

  grpc::Status FetchWeights(grpc::ServerContext* ctx, const v1::FetchWeightsRequest* req,
                            grpc::ServerWriter<v1::WeightsChunk>* writer) override {
    if (auto s = CheckWorker(req->worker_id()); !s.ok()) {
      Reject("unknown_worker", s.error_message());
      return s;
    }
    std::shared_ptr<const Weights> w;
    {
      std::lock_guard<std::mutex> lock(weights_mu);
      w = weights;
    }
    if (!w)
      return {grpc::StatusCode::FAILED_PRECONDITION, "the learner has published no weights yet"};
    for (size_t offset = 0; offset == 0 || offset < w->bytes.size(); offset += kChunkBytes) {
      if (ctx->IsCancelled()) return {grpc::StatusCode::CANCELLED, "cancelled by the worker"};
      v1::WeightsChunk chunk;
      if (offset == 0) {
        chunk.set_policy_version(w->version);
        chunk.set_total_bytes(static_cast<int64_t>(w->bytes.size()));
        chunk.set_sha256(w->sha256);
        chunk.set_format("safetensors");
      }
      chunk.set_offset(static_cast<int64_t>(offset));
      chunk.set_data(w->bytes.substr(offset, kChunkBytes));
      if (!writer->Write(chunk)) return {grpc::StatusCode::CANCELLED, "the worker went away"};
      m_weight_bytes.Increment(static_cast<double>(chunk.data().size()));
    }
    m_weight_fetches.Increment();
    return grpc::Status::OK;
  }

  grpc::Status Pause(grpc::ServerContext*, const v1::AdminRequest*,
                     v1::ControllerStatus* out) override {
    SetPaused(true);
    *out = Snapshot();
    return grpc::Status::OK;
  }
  grpc::Status Resume(grpc::ServerContext*, const v1::AdminRequest*,
                      v1::ControllerStatus* out) override {
    SetPaused(false);
    *out = Snapshot();
    return grpc::Status::OK;
  }
  grpc::Status Status(grpc::ServerContext*, const v1::AdminRequest*,
                      v1::ControllerStatus* out) override {
    *out = Snapshot();
    return grpc::Status::OK;
  }
  grpc::Status Drain(grpc::ServerContext*, const v1::AdminRequest*,
                     v1::ControllerStatus* out) override {
    leases->Drain();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!draining)
        spdlog::info("controller: draining: no new prompts; outstanding leases finish");
      draining = true;
    }
    lease_cv.notify_all();
    ingested_cv.notify_all();
    *out = Snapshot();
    return grpc::Status::OK;
  }
  grpc::Status CheckpointNow(grpc::ServerContext* ctx, const v1::CheckpointRequest* req,
                             v1::CheckpointResponse* out) override {
    if (req->timeout_ms() < 0) {
      const std::string msg = absl::StrCat("timeout_ms = ", req->timeout_ms(), ": must be >= 0");
      Reject("bad_request", msg);
      return {grpc::StatusCode::INVALID_ARGUMENT, msg};
    }
    const auto until = Clock::now() + std::chrono::milliseconds(
                                          req->timeout_ms() > 0 ? req->timeout_ms() : 600000);
    std::unique_lock<std::mutex> lock(mu);
    const int64_t ticket = ++checkpoints_requested;
    ingested_cv.notify_all();  // a learner waiting for rollouts looks at once
    while (checkpoints_served < ticket) {
      if (!running || ctx->IsCancelled())
        return {grpc::StatusCode::UNAVAILABLE, "the learner is stopping"};
      if (Clock::now() >= until)
        return {grpc::StatusCode::DEADLINE_EXCEEDED, "the learner has not reached a step boundary"};
      checkpoint_cv.wait_until(lock,
                               std::min(until, Clock::now() + std::chrono::milliseconds(200)));
    }
    out->set_step(last_checkpoint_step);
    out->set_path(last_checkpoint_path);
    return grpc::Status::OK;
  }

  bool HasWeights() const {
    std::lock_guard<std::mutex> lock(weights_mu);
    return weights != nullptr;
  }

  void SetPaused(bool p) {
    {
      std::lock_guard<std::mutex> lock(mu);
      paused = p;
    }
    leases->Pause(p);
    lease_cv.notify_all();
  }

  v1::ControllerStatus Snapshot() const {
    v1::ControllerStatus s;
    const LeaseStats l = leases->Stats();
    s.set_policy_version(l.policy_version);
    s.set_leases_granted(l.granted);
    s.set_leases_expired(l.expired);
    s.set_leases_completed(l.completed);
    s.set_leases_outstanding(l.outstanding);
    s.set_dataset_exhausted(l.dataset_exhausted);
    s.set_groups_ingested(static_cast<int64_t>(buffer->stored_total()));
    s.set_groups_duplicate(static_cast<int64_t>(m_duplicate.Value()));
    s.set_groups_unconsumed(static_cast<int64_t>(buffer->unconsumed()));
    s.set_groups_stale(static_cast<int64_t>(m_stale.Value()));
    s.set_weight_fetches(static_cast<int64_t>(m_weight_fetches.Value()));
    {
      std::lock_guard<std::mutex> lock(weights_mu);
      s.set_weights_version(weights ? weights->version : -1);
      s.set_weights_bytes(weights ? static_cast<int64_t>(weights->bytes.size()) : 0);
    }
    std::lock_guard<std::mutex> lock(mu);
    s.set_paused(paused);
    s.set_draining(draining);
    s.set_workers(static_cast<int32_t>(LiveWorkersLocked()));
    for (const auto& [k, v] : rejected) (*s.mutable_rejected())[k] = v;
    s.set_last_checkpoint_step(last_checkpoint_step);
    s.set_last_checkpoint_path(last_checkpoint_path);
    const auto now = Clock::now();
    const auto horizon = LiveHorizon();
    for (const auto& [id, seen] : workers) {
      v1::WorkerInfo* w = s.add_worker_info();
      w->set_worker_id(id);
      if (auto h = worker_hosts.find(id); h != worker_hosts.end()) w->set_host(h->second);
      w->set_seconds_since_seen(std::chrono::duration<double>(now - seen).count());
      w->set_live(now - seen <= horizon);
      w->set_policy_version(-1);
      if (auto r = reports.find(id); r != reports.end()) {
        const v1::WorkerReport& rep = r->second;
        w->set_policy_version(rep.policy_version());
        w->set_tokens_generated(rep.tokens_generated());
        w->set_tokens_per_second(
            rep.generate_seconds() > 0 ? rep.tokens_generated() / rep.generate_seconds() : 0.0);
        w->set_groups_pushed(rep.groups_pushed());
        w->set_metrics_address(rep.metrics_address());
        w->set_grpc_address(rep.grpc_address());
      }
    }
    return s;
  }
};

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(ControllerOptions options,
                                                                          PromptDataset dataset) {
  auto state = std::make_unique<State>();
  state->options = options;
  state->dataset = std::move(dataset);
  auto buffer = RolloutBuffer::Open({options.buffer_path});
  if (!buffer.ok()) return buffer.status();
  state->buffer = std::move(*buffer);
  State* s = state.get();
  if (options.leases.lease_id_prefix == "L") {  // unique per start: "L<unix ms, base 36>-"
    uint64_t ms = static_cast<uint64_t>(UnixMillis(Clock::now()));
    std::string b36;
    do {
      b36.insert(b36.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[ms % 36]);
      ms /= 36;
    } while (ms > 0);
    options.leases.lease_id_prefix = absl::StrCat("L", b36, "-");
  }
  if (options.resume) {
    auto saved = s->buffer->GetMeta(kResumeKey);
    if (!saved.ok()) return saved.status();
    if (saved->has_value()) {
      const auto j = nlohmann::json::parse(**saved, nullptr, false);
      if (j.is_discarded() || !j.is_object() ||
          !j.value("step", nlohmann::json()).is_number_integer() ||
          !j.value("dataset_position", nlohmann::json()).is_number_integer() ||
          !j.value("checkpoint", nlohmann::json()).is_string()) {
        return absl::DataLossError(
            absl::StrCat(options.buffer_path, ": meta \"", kResumeKey, "\" = ", **saved,
                         ": not a resume point (step, dataset_position, checkpoint)"));
      }
      ResumePoint rp;
      rp.step = j["step"].get<int64_t>();
      rp.dataset_position = j["dataset_position"].get<int64_t>();
      rp.checkpoint = j["checkpoint"].get<std::string>();
      ASSIGN_OR_RETURN(rp.groups_dropped, s->buffer->DropUnconsumed());
      s->dataset.SeekPosition(rp.dataset_position);
      options.leases.start_position = rp.dataset_position;
      s->policy_version = rp.step;
      s->resumed = rp;
    }
  }
  state->leases = std::make_unique<LeaseManager>(options.leases, [s] { return s->dataset.Next(); });
  if (s->resumed) s->leases->SetPolicyVersion(s->resumed->step);
  try {
    state->ingest = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::pull);
    state->ingest->set(zmq::sockopt::rcvtimeo, 100);
    state->ingest->set(zmq::sockopt::linger, 0);
    state->ingest->bind(options.ingest_address);
    state->ingest_endpoint = state->ingest->get(zmq::sockopt::last_endpoint);
    state->rollouts = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::pull);
    state->rollouts->set(zmq::sockopt::rcvtimeo, 100);
    state->rollouts->set(zmq::sockopt::linger, 0);
    state->rollouts->bind(options.rollouts_address);
    state->rollouts_endpoint = state->rollouts->get(zmq::sockopt::last_endpoint);
    state->to_graders = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::push);
    state->to_graders->set(zmq::sockopt::sndtimeo, 100);
    state->to_graders->set(zmq::sockopt::linger, 0);
    state->to_graders->bind(options.graders_address);
    state->graders_endpoint = state->to_graders->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "controller.rollouts_address/graders_address/ingest_address = ", options.rollouts_address,
        "/", options.graders_address, "/", options.ingest_address, ": ", e.what()));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(),
                           &state->grpc_port);
  builder.RegisterService(static_cast<v1::Controller::Service*>(s));
  builder.RegisterService(static_cast<v1::Admin::Service*>(s));
  state->grpc_server = builder.BuildAndStart();
  if (!state->grpc_server || state->grpc_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("controller.grpc_address = ", options.grpc_address, ": cannot listen there"));
  }
  auto exposer =
      metrics::Exposer::Start(options.metrics_address, &s->registry, [s] { s->RefreshGauges(); });
  if (!exposer.ok()) {
    state->grpc_server->Shutdown();
    return absl::InvalidArgumentError(
        absl::StrCat("controller.metrics_address = ", options.metrics_address, ": ",
                     exposer.status().message()));
  }
  s->exposer = std::move(*exposer);
  s->ingest_thread = std::thread([s] { s->IngestLoop(); });
  s->forward_thread = std::thread([s] { s->ForwardLoop(); });
  return std::unique_ptr<ControllerServer>(new ControllerServer(std::move(state)));
}

ControllerServer::ControllerServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
ControllerServer::~ControllerServer() { Shutdown(); }

void ControllerServer::Shutdown() {
  if (!state_ || state_->shut_down) return;
  state_->shut_down = true;
  state_->running = false;
  state_->ingest_thread.join();
  state_->forward_thread.join();
  state_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  state_->ingest->close();
  state_->rollouts->close();
  state_->to_graders->close();
  state_->ingested_cv.notify_all();
  state_->lease_cv.notify_all();
  state_->checkpoint_cv.notify_all();
}

absl::StatusOr<TrainBatch> ControllerServer::TakeBatch(
    int64_t groups, std::chrono::steady_clock::time_point deadline) {
  TrainBatch batch;
  State* s = state_.get();
  while (static_cast<int64_t>(batch.groups.size()) < groups) {
    std::unique_lock<std::mutex> ingest_lock(s->ingest_mu);
    auto peek =
        s->buffer->Peek(static_cast<size_t>(groups - static_cast<int64_t>(batch.groups.size())));
    if (!peek.ok()) return peek.status();
    if (peek->empty()) {
      ingest_lock.unlock();
      if (Clock::now() >= deadline) return batch;  // what there is (consumed groups are never lost)
      // Woken by ingest, or after 50 ms at most (a notification may come between the peek
      // and the wait).
      std::unique_lock<std::mutex> lock(s->mu);
      s->ingested_cv.wait_for(lock, std::chrono::milliseconds(50));
      continue;
    }
    const int64_t version = s->policy_version;
    int64_t stale = 0;
    std::vector<std::string> stale_leases;
    for (BufferedGroup& g : *peek) {
      // Too old, or from a version this learner never published (a worker that sampled
      // with a lost run's weights before a restart): not trainable.
      const int64_t age = version - g.group.policy_version();
      if (age > s->options.leases.max_staleness || age < 0) {
        ++batch.stale_dropped;
        ++stale;
        stale_leases.push_back(g.group.lease_id());
        s->m_stale.Increment();
      } else {
        batch.groups.push_back(std::move(g.group));
      }
    }
    if (auto st = s->buffer->Commit(peek->back().sequence); !st.ok()) return st;
    s->leases->Consumed(static_cast<int64_t>(peek->size()));
    s->leases->Discarded(stale);
    s->leases->Trained(stale_leases);
  }
  return batch;
}

void ControllerServer::DiscardGroups(int64_t groups) {
  state_->leases->Discarded(groups);
  state_->lease_cv.notify_all();
}

void ControllerServer::SetPolicyVersion(int64_t version) {
  state_->policy_version = version;
  state_->leases->SetPolicyVersion(version);
  state_->lease_cv.notify_all();
}

void ControllerServer::Trained(const std::vector<std::string>& lease_ids) {
  state_->leases->Trained(lease_ids);
}

absl::Status ControllerServer::SaveResumePoint(int64_t step, const std::string& checkpoint) {
  const nlohmann::json j = {{"step", step},
                            {"dataset_position", state_->leases->ResumePosition()},
                            {"checkpoint", checkpoint}};
  return state_->buffer->PutMeta(kResumeKey, j.dump());
}

const std::optional<ResumePoint>& ControllerServer::resumed_from() const { return state_->resumed; }

int64_t ControllerServer::PendingCheckpoints() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->checkpoints_requested > state_->checkpoints_served ? state_->checkpoints_requested
                                                                    : 0;
}

void ControllerServer::CheckpointSaved(int64_t served_through, int64_t step,
                                       const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->checkpoints_served = std::max(state_->checkpoints_served, served_through);
    state_->last_checkpoint_step = step;
    state_->last_checkpoint_path = path;
  }
  state_->checkpoint_cv.notify_all();
}

bool ControllerServer::draining() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->draining;
}

void ControllerServer::PublishWeights(int64_t version, std::string safetensors_bytes) {
  auto w = std::make_shared<State::Weights>();
  w->version = version;
  w->sha256 = transport::Sha256Hex(safetensors_bytes);
  w->bytes = std::move(safetensors_bytes);
  {
    std::lock_guard<std::mutex> lock(state_->weights_mu);
    state_->weights = std::move(w);
  }
  state_->lease_cv.notify_all();
}

metrics::Registry& ControllerServer::registry() { return state_->registry; }

v1::ControllerStatus ControllerServer::Status() const { return state_->Snapshot(); }
int ControllerServer::grpc_port() const { return state_->grpc_port; }
int ControllerServer::metrics_port() const { return state_->exposer->port(); }
std::string ControllerServer::ingest_endpoint() const { return state_->ingest_endpoint; }
std::string ControllerServer::rollouts_endpoint() const { return state_->rollouts_endpoint; }
std::string ControllerServer::graders_endpoint() const { return state_->graders_endpoint; }

}  // namespace r1rl::learner
