#include "services/reward_grader/grader_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/metrics/exposer.h"
#include "lib/metrics/metrics.h"
#include "lib/rewards/sandbox.h"
#include "lib/runtime/blocking_queue.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/transport/host_name.h"
#include "lib/transport/zmq_pipe.h"
#include "r1rl/v1/grader.grpc.pb.h"
#include "services/reward_grader/grader_metrics.h"
#include "services/reward_grader/group_grading.h"

namespace r1rl::reward {

using Clock = std::chrono::steady_clock;

struct GraderServer::State : public v1::RewardGrader::Service, public GraderMetrics {
  GraderServerOptions options;
  std::unique_ptr<Grader> grader;
  zmq::context_t context{1};
  std::unique_ptr<transport::ZapHandler> zap;  // CurveZMQ, when this grader binds; outlives sockets
  std::unique_ptr<zmq::socket_t> pull, push;
  std::unique_ptr<transport::Pump> pump;  // pull -> incoming
  runtime::BlockingQueue<std::string> incoming{4}, outgoing{16};
  std::vector<std::thread> threads;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  std::atomic<int64_t> received{0}, graded{0}, samples{0};
  mutable std::mutex mu;
  std::map<std::string, int64_t> dropped;
  Clock::time_point started = Clock::now();
  bool shut_down = false;

  std::unique_ptr<metrics::Exposer> exposer;
  double cas_timeouts_seen = 0;

  void RefreshGauges() {
    m_queue.Add({{"queue", "incoming"}}).Set(static_cast<double>(incoming.size()));
    m_queue.Add({{"queue", "outgoing"}}).Set(static_cast<double>(outgoing.size()));
    std::lock_guard<std::mutex> lock(mu);
    const double t = static_cast<double>(grader->cas_timeouts());
    m_cas_timeouts.Increment(t - cas_timeouts_seen);
    cas_timeouts_seen = t;
  }

  void Observe(const v1::RolloutGroup& g) {
    for (const v1::Sample& s : g.samples()) {
      m_reward.Add({{"component", "total"}}).Observe(s.reward());
      for (const auto& [name, value] : s.reward_components())
        m_reward.Add({{"component", name}}).Observe(value);
    }
  }

  void Count(const GroupOutcome& o) {
    if (o.drop == Drop::kNone) {
      ++graded;
      samples += o.samples;
      m_graded.Increment();
      m_samples.Increment(o.samples);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      ++dropped[DropName(o.drop)];
    }
    m_dropped.Add({{"reason", DropName(o.drop)}}).Increment();
    spdlog::warn("grader {}: dropped a message ({}): {}", options.id, DropName(o.drop), o.reason);
  }

  // A message from the data plane: to the graders' queue (the pump drains the socket after
  // Shutdown(), so messages the peers sent to this replica are graded).
  void Receive(zmq::message_t& msg) {
    ++received;
    m_received.Increment();
    incoming.Push(msg.to_string());
  }

  void GradeLoop() {
    while (auto bytes = incoming.Pop()) {
      const auto start = Clock::now();
      if (bytes->size() > options.max_message_bytes) {
        Count({Drop::kOversized,
               absl::StrCat("message of ", bytes->size(),
                            " bytes > grader.max_message_bytes = ", options.max_message_bytes),
               0});
        continue;
      }
      v1::RolloutGroup group;
      if (!group.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
        Count({Drop::kMalformed,
               absl::StrCat("message of ", bytes->size(), " bytes is not a RolloutGroup"), 0});
        continue;
      }
      GroupOutcome o = GradeGroup(*grader, options.id, &group);
      Count(o);
      if (o.drop != Drop::kNone) continue;
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      group.set_grade_seconds(secs);
      m_latency.Observe(secs);
      Observe(group);
      outgoing.Push(group.SerializeAsString());
    }
  }

  void SendLoop() {
    while (auto bytes = outgoing.Pop()) {
      // Waits (with retries) while no consumer is connected; gives up only at shutdown.
      if (!transport::SendBlocking(*push, *bytes, [] { return true; })) return;
    }
  }

  grpc::Status Status(grpc::ServerContext*, const v1::GraderStatusRequest*,
                      v1::GraderStatus* out) override {
    *out = Snapshot();
    return grpc::Status::OK;
  }

  grpc::Status Grade(grpc::ServerContext*, const v1::RolloutGroup* in,
                     v1::RolloutGroup* out) override {
    *out = *in;
    ++received;
    m_received.Increment();
    GroupOutcome o = GradeGroup(*grader, options.id, out);
    Count(o);
    if (o.drop != Drop::kNone) return {grpc::StatusCode::INVALID_ARGUMENT, o.reason};
    Observe(*out);
    return grpc::Status::OK;
  }

  v1::GraderStatus Snapshot() const {
    v1::GraderStatus s;
    s.set_grader_id(options.id);
    s.set_groups_received(received);
    s.set_groups_graded(graded);
    s.set_samples_graded(samples);
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [k, v] : dropped) (*s.mutable_dropped())[k] = v;
    }
    s.set_cas_timeouts(grader->cas_timeouts());
    s.set_sandbox_protections(Sandbox::Protections().Describe());
    s.set_uptime_seconds(std::chrono::duration<double>(Clock::now() - started).count());
    s.set_threads(options.threads);
    return s;
  }
};

absl::StatusOr<GraderServerOptions> GraderServerOptionsFromConfig(const config::Config& cfg) {
  GraderServerOptions o;
  auto grading = GraderOptionsFromConfig(cfg);
  if (!grading.ok()) return grading.status();
  o.grading = *grading;
  o.input = cfg.GetString("grader.input");
  o.input_bind = cfg.GetBool("grader.input_bind");
  o.output = cfg.GetString("grader.output");
  o.output_bind = cfg.GetBool("grader.output_bind");
  o.grpc_address = cfg.GetString("grader.grpc_address");
  o.metrics_address = cfg.GetString("grader.metrics_address");
  auto security = security::SecurityFromConfig(cfg);
  if (!security.ok()) return security.status();
  o.security = *security;
  o.id = cfg.GetString("grader.id");
  const int64_t threads = cfg.GetInt("grader.threads");
  if (threads < 1 || threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("grader.threads = ", threads, ": must be in 1..256"));
  }
  o.threads = static_cast<int>(threads);
  const int64_t max_bytes = cfg.GetInt("grader.max_message_bytes");
  if (max_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("grader.max_message_bytes = ", max_bytes, ": must be >= 1024"));
  }
  o.max_message_bytes = static_cast<size_t>(max_bytes);
  return o;
}

absl::StatusOr<std::unique_ptr<GraderServer>> GraderServer::Start(GraderServerOptions options) {
  auto state = std::make_unique<State>();
  if (options.id.empty()) {
    options.id = absl::StrCat(transport::HostName(), "-", ::getpid());
  }
  state->options = options;
  state->grader = std::make_unique<Grader>(options.grading);
  {
    // CurveZMQ: a grader is a client of the learner's sockets; when it binds instead, it
    // admits the learner's key only.
    auto zap = security::StartZap(state->context, options.security,
                                  {{"grader-input", "learner"}, {"grader-output", "learner"}},
                                  &state->registry);
    if (!zap.ok()) return zap.status();
    state->zap = std::move(*zap);
    auto curve = [&](bool bind, const char* domain) {
      return bind ? security::CurveServer(options.security, "grader", domain)
                  : security::CurveClient(options.security, "grader", "learner");
    };
    auto in_keys = curve(options.input_bind, "grader-input");
    if (!in_keys.ok()) return in_keys.status();
    auto out_keys = curve(options.output_bind, "grader-output");
    if (!out_keys.ok()) return out_keys.status();
    auto pull = transport::OpenSocket(state->context, zmq::socket_type::pull,
                                      {options.input, options.input_bind, 100, 64, 0, *in_keys},
                                      "grader.input");
    if (!pull.ok()) return pull.status();
    state->pull = std::move(*pull);
    auto push = transport::OpenSocket(
        state->context, zmq::socket_type::push,
        {options.output, options.output_bind, 100, 0, 5000, *out_keys}, "grader.output");
    if (!push.ok()) return push.status();
    state->push = std::move(*push);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  auto credentials = security::ServerCredentials(options.security, &state->registry);
  if (!credentials.ok()) return credentials.status();
  auto exposer_options = security::MetricsOptions(options.security);
  if (!exposer_options.ok()) return exposer_options.status();
  builder.AddListeningPort(options.grpc_address, *credentials, &state->grpc_port);
  builder.RegisterService(state.get());
  state->grpc_server = builder.BuildAndStart();
  if (!state->grpc_server || state->grpc_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("grader.grpc_address = ", options.grpc_address, ": cannot listen there"));
  }
  State* s = state.get();
  auto exposer = metrics::Exposer::Start(
      options.metrics_address, &s->registry, [s] { s->RefreshGauges(); }, *exposer_options);
  if (!exposer.ok()) {
    state->grpc_server->Shutdown();
    return absl::InvalidArgumentError(absl::StrCat(
        "grader.metrics_address = ", options.metrics_address, ": ", exposer.status().message()));
  }
  s->exposer = std::move(*exposer);
  s->pump = std::make_unique<transport::Pump>(
      *s->pull, [s](zmq::message_t& msg) { s->Receive(msg); }, /*drain=*/true);
  for (int i = 0; i < options.threads; ++i) s->threads.emplace_back([s] { s->GradeLoop(); });
  s->threads.emplace_back([s] { s->SendLoop(); });
  spdlog::info(
      "grader {}: input {} ({}), output {} ({}), gRPC port {}, metrics port {}, {} threads; "
      "sandbox {}",
      options.id, options.input, options.input_bind ? "bind" : "connect", options.output,
      options.output_bind ? "bind" : "connect", s->grpc_port, s->exposer->port(), options.threads,
      Sandbox::Protections().Describe());
  return std::unique_ptr<GraderServer>(new GraderServer(std::move(state)));
}

GraderServer::GraderServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

GraderServer::~GraderServer() { Shutdown(); }

void GraderServer::Shutdown() {
  if (state_ == nullptr || state_->shut_down) return;
  state_->shut_down = true;
  // The pump takes what already reached the socket until it is quiet for one receive
  // timeout; then `incoming` closes and the graders drain it; then `outgoing` closes and the
  // sender drains it.
  state_->pump->Stop();
  state_->incoming.Close();
  const size_t graders = static_cast<size_t>(state_->options.threads);
  for (size_t i = 0; i < graders; ++i) state_->threads[i].join();
  state_->outgoing.Close();
  state_->threads.back().join();
  state_->grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  state_->pull->close();
  state_->push->close();  // linger: queued messages still go out
  spdlog::info("grader {}: stopped after {} groups graded", state_->options.id,
               state_->graded.load());
}

v1::GraderStatus GraderServer::Status() const { return state_->Snapshot(); }
int GraderServer::grpc_port() const { return state_->grpc_port; }
int GraderServer::metrics_port() const { return state_->exposer->port(); }
const std::string& GraderServer::id() const { return state_->options.id; }

}  // namespace r1rl::reward
