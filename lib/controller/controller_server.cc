#include "lib/controller/controller_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/controller/controller_core.h"
#include "lib/controller/controller_service.h"
#include "lib/metrics/exposer.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/status/status_macros.h"
#include "lib/transport/zmq_pipe.h"

namespace r1rl::learner {
namespace {

constexpr char kResumeKey[] = "resume";  // the buffer meta key of the ResumePoint (JSON)
using Clock = std::chrono::steady_clock;

// "L<unix ms, base 36>-": lease ids unique per start, so a restarted learner never reuses an
// id the buffer's dedup index already holds.
std::string LeasePrefix() {
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  std::string b36;
  do {
    b36.insert(b36.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[ms % 36]);
    ms /= 36;
  } while (ms > 0);
  return absl::StrCat("L", b36, "-");
}

// The resume point in the buffer's meta, if any.
absl::StatusOr<std::optional<ResumePoint>> ReadResumePoint(RolloutBuffer& buffer,
                                                           const std::string& buffer_path) {
  ASSIGN_OR_RETURN(std::optional<std::string> saved, buffer.GetMeta(kResumeKey));
  if (!saved) return std::optional<ResumePoint>();
  const auto j = nlohmann::json::parse(*saved, nullptr, false);
  if (j.is_discarded() || !j.is_object() ||
      !j.value("step", nlohmann::json()).is_number_integer() ||
      !j.value("dataset_position", nlohmann::json()).is_number_integer() ||
      !j.value("checkpoint", nlohmann::json()).is_string()) {
    return absl::DataLossError(absl::StrCat(buffer_path, ": meta \"", kResumeKey, "\" = ", *saved,
                                            ": not a resume point (step, dataset_position, "
                                            "checkpoint)"));
  }
  ResumePoint rp;
  rp.step = j["step"].get<int64_t>();
  rp.dataset_position = j["dataset_position"].get<int64_t>();
  rp.checkpoint = j["checkpoint"].get<std::string>();
  return std::optional<ResumePoint>(rp);
}

}  // namespace

// The parts, started in this order and stopped in reverse: the core (state), the data
// plane (ZeroMQ sockets and their pumps), the gRPC layer, /metrics.
struct ControllerServer::State {
  std::unique_ptr<ControllerCore> core;
  std::unique_ptr<ControllerService> service;
  zmq::context_t context{1};
  std::unique_ptr<transport::ZapHandler> zap;  // CurveZMQ allow-lists; outlives the sockets
  std::unique_ptr<zmq::socket_t> ingest, rollouts, to_graders;
  std::string ingest_endpoint, rollouts_endpoint, graders_endpoint;
  std::unique_ptr<transport::Pump> ingest_pump, forward_pump;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  std::unique_ptr<metrics::Exposer> exposer;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(ControllerOptions options,
                                                                          PromptDataset dataset) {
  if (options.leases.lease_id_prefix == "L") options.leases.lease_id_prefix = LeasePrefix();
  ASSIGN_OR_RETURN(auto buffer, RolloutBuffer::Open(
                                    {options.buffer_path, false, options.buffer_min_free_bytes}));
  std::optional<ResumePoint> resumed;
  if (options.resume) {
    ASSIGN_OR_RETURN(resumed, ReadResumePoint(*buffer, options.buffer_path));
    if (resumed) {
      ASSIGN_OR_RETURN(resumed->groups_dropped, buffer->DropUnconsumed());
      dataset.SeekPosition(resumed->dataset_position);
      options.leases.start_position = resumed->dataset_position;
    }
  }
  auto state = std::make_unique<State>();
  state->core = std::make_unique<ControllerCore>(options, std::move(dataset));
  ControllerCore* core = state->core.get();
  core->buffer = std::move(buffer);
  core->resumed = resumed;
  core->leases =
      std::make_unique<LeaseManager>(options.leases, [core] { return core->dataset.Next(); });
  if (resumed) {
    core->policy_version = resumed->step;
    core->leases->SetPolicyVersion(resumed->step);
  }
  // A trainer waiting for rollouts looks at the checkpoint requests at once.
  core->checkpoints.set_on_request([core] { core->ingested_cv.notify_all(); });

  // The data plane: every endpoint bound here, so workers and graders only connect. With
  // CurveZMQ, the ingest and the graders' endpoint admit grader keys only, the rollouts
  // endpoint worker keys only (security/curve_keys.h).
  ASSIGN_OR_RETURN(
      state->zap,
      security::StartZap(state->context, options.security,
                         {{"ingest", "grader"}, {"graders", "grader"}, {"rollouts", "worker"}},
                         &core->registry));
  auto curve = [&](const char* domain) {
    return security::CurveServer(options.security, "learner", domain);
  };
  ASSIGN_OR_RETURN(auto ingest_keys, curve("ingest"));
  ASSIGN_OR_RETURN(auto rollouts_keys, curve("rollouts"));
  ASSIGN_OR_RETURN(auto graders_keys, curve("graders"));
  ASSIGN_OR_RETURN(state->ingest,
                   transport::OpenSocket(state->context, zmq::socket_type::pull,
                                         {options.ingest_address, true, 100, 0, 0, ingest_keys},
                                         "controller.ingest_address"));
  ASSIGN_OR_RETURN(state->rollouts,
                   transport::OpenSocket(state->context, zmq::socket_type::pull,
                                         {options.rollouts_address, true, 100, 0, 0, rollouts_keys},
                                         "controller.rollouts_address"));
  ASSIGN_OR_RETURN(state->to_graders,
                   transport::OpenSocket(state->context, zmq::socket_type::push,
                                         {options.graders_address, true, 100, 0, 0, graders_keys},
                                         "controller.graders_address"));
  state->ingest_endpoint = transport::BoundEndpoint(*state->ingest);
  state->rollouts_endpoint = transport::BoundEndpoint(*state->rollouts);
  state->graders_endpoint = transport::BoundEndpoint(*state->to_graders);

  state->service = std::make_unique<ControllerService>(*core);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  ASSIGN_OR_RETURN(auto credentials,
                   security::ServerCredentials(options.security, &core->registry));
  if (options.grpc_credentials_override) credentials = options.grpc_credentials_override;
  builder.AddListeningPort(options.grpc_address, credentials, &state->grpc_port);
  builder.RegisterService(static_cast<v1::Controller::Service*>(state->service.get()));
  builder.RegisterService(static_cast<v1::Admin::Service*>(state->service.get()));
  state->grpc_server = builder.BuildAndStart();
  if (!state->grpc_server || state->grpc_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("controller.grpc_address = ", options.grpc_address, ": cannot listen there"));
  }
  ASSIGN_OR_RETURN(auto exposer_options, security::MetricsOptions(options.security));
  auto exposer = metrics::Exposer::Start(
      options.metrics_address, &core->registry, [core] { core->RefreshGauges(); }, exposer_options);
  if (!exposer.ok()) {
    state->grpc_server->Shutdown();
    return absl::InvalidArgumentError(
        absl::StrCat("controller.metrics_address = ", options.metrics_address, ": ",
                     exposer.status().message()));
  }
  state->exposer = std::move(*exposer);
  state->ingest_pump = std::make_unique<transport::Pump>(
      *state->ingest, [core](zmq::message_t& msg) { core->Ingest(msg.data(), msg.size()); });
  // Workers' rollouts to the graders, as they come (ZeroMQ fair-queues the workers and
  // round-robins the graders); a send waits while no grader is connected.
  zmq::socket_t* to_graders = state->to_graders.get();
  state->forward_pump =
      std::make_unique<transport::Pump>(*state->rollouts, [core, to_graders](zmq::message_t& msg) {
        if (transport::SendBlocking(*to_graders, {static_cast<const char*>(msg.data()), msg.size()},
                                    [core] { return core->running.load(); })) {
          core->m.forwarded.Increment();
        }
      });
  return std::unique_ptr<ControllerServer>(new ControllerServer(std::move(state)));
}

ControllerServer::ControllerServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
ControllerServer::~ControllerServer() { Shutdown(); }

void ControllerServer::Shutdown() {
  if (!state_ || state_->shut_down) return;
  state_->shut_down = true;
  ControllerCore* core = state_->core.get();
  core->running = false;
  state_->ingest_pump->Stop();
  state_->forward_pump->Stop();
  core->checkpoints.Shutdown();
  core->lease_cv.notify_all();
  state_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  state_->ingest->close();
  state_->rollouts->close();
  state_->to_graders->close();
  core->ingested_cv.notify_all();
  core->lease_cv.notify_all();
}

absl::StatusOr<TrainBatch> ControllerServer::TakeBatch(
    int64_t groups, std::chrono::steady_clock::time_point deadline) {
  TrainBatch batch;
  ControllerCore* s = state_->core.get();
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
        s->m.stale.Increment();
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
  state_->core->leases->Discarded(groups);
  state_->core->lease_cv.notify_all();
}

void ControllerServer::SetPolicyVersion(int64_t version) {
  state_->core->policy_version = version;
  state_->core->leases->SetPolicyVersion(version);
  state_->core->lease_cv.notify_all();
}

void ControllerServer::Trained(const std::vector<std::string>& lease_ids) {
  state_->core->leases->Trained(lease_ids);
}

absl::Status ControllerServer::SaveResumePoint(int64_t step, const std::string& checkpoint) {
  const nlohmann::json j = {{"step", step},
                            {"dataset_position", state_->core->leases->ResumePosition()},
                            {"checkpoint", checkpoint}};
  return state_->core->buffer->PutMeta(kResumeKey, j.dump());
}

const std::optional<ResumePoint>& ControllerServer::resumed_from() const {
  return state_->core->resumed;
}

int64_t ControllerServer::PendingCheckpoints() const { return state_->core->checkpoints.Pending(); }

void ControllerServer::CheckpointSaved(int64_t served_through, int64_t step,
                                       const std::string& path) {
  state_->core->checkpoints.Served(served_through, step, path);
}

bool ControllerServer::draining() const {
  std::lock_guard<std::mutex> lock(state_->core->mu);
  return state_->core->draining;
}

void ControllerServer::PublishWeights(int64_t version, std::string safetensors_bytes) {
  state_->core->weights.Publish(version, std::move(safetensors_bytes));
  state_->core->lease_cv.notify_all();
}

metrics::Registry& ControllerServer::registry() { return state_->core->registry; }
v1::ControllerStatus ControllerServer::Status() const { return state_->core->Snapshot(); }
int ControllerServer::grpc_port() const { return state_->grpc_port; }
int ControllerServer::metrics_port() const { return state_->exposer->port(); }
std::string ControllerServer::ingest_endpoint() const { return state_->ingest_endpoint; }
std::string ControllerServer::rollouts_endpoint() const { return state_->rollouts_endpoint; }
std::string ControllerServer::graders_endpoint() const { return state_->graders_endpoint; }

}  // namespace r1rl::learner
