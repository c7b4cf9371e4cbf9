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
#include "r1rl/v1/grader.grpc.pb.h"
#include "services/reward_grader/group_grading.h"

namespace r1rl::reward {

using Clock = std::chrono::steady_clock;

struct GraderServer::State : public v1::RewardGrader::Service {
  GraderServerOptions options;
  std::unique_ptr<Grader> grader;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> pull, push;
  runtime::BlockingQueue<std::string> incoming{4}, outgoing{16};
  std::vector<std::thread> threads;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  std::atomic<bool> receiving{true};
  std::atomic<int64_t> received{0}, graded{0}, samples{0};
  mutable std::mutex mu;
  std::map<std::string, int64_t> dropped;
  Clock::time_point started = Clock::now();
  bool shut_down = false;

  // Prometheus metrics.
  metrics::Registry registry;
  metrics::Counter& m_received =
      registry
          .AddCounter("r1rl_grader_groups_received_total",
                      "Rollout groups taken in (ZeroMQ and the Grade RPC).")
          .Add({});
  metrics::Counter& m_graded =
      registry.AddCounter("r1rl_grader_groups_graded_total", "Rollout groups graded and passed on.")
          .Add({});
  metrics::Counter& m_samples =
      registry.AddCounter("r1rl_grader_samples_graded_total", "Samples graded.").Add({});
  metrics::Family<metrics::Counter>& m_dropped =
      registry.AddCounter("r1rl_grader_dropped_total", "Messages dropped, by reason.");
  metrics::Histogram& m_latency =
      registry
          .AddHistogram("r1rl_grader_group_seconds", "Time to grade one group.",
                        metrics::ExponentialBuckets(0.0001, 4, 10))
          .Add({});
  metrics::Family<metrics::Histogram>& m_reward =
      registry.AddHistogram("r1rl_grader_sample_reward", "Reward components of graded samples.",
                            metrics::LinearBuckets(0, 0.25, 5));
  metrics::Family<metrics::Gauge>& m_queue =
      registry.AddGauge("r1rl_grader_queue_depth", "Groups waiting, by queue.");
  metrics::Counter& m_cas_timeouts =
      registry
          .AddCounter("r1rl_grader_cas_timeouts_total",
                      "Symbolic comparisons stopped at their time limit.")
          .Add({});
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

  // After Shutdown() it keeps taking what has already reached the socket, until the input
  // is quiet for one receive timeout: messages the peers sent to this replica are graded.
  void ReceiveLoop() {
    while (true) {
      zmq::message_t msg;
      zmq::recv_result_t got;
      try {
        got = pull->recv(msg, zmq::recv_flags::none);  // ZMQ_RCVTIMEO bounds the wait
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) break;
        continue;
      }
      if (!got) {
        if (!receiving) break;
        continue;
      }
      ++received;
      m_received.Increment();
      if (!incoming.Push(msg.to_string())) break;
    }
    incoming.Close();
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
      while (true) {  // blocks (with retries) while no consumer is connected
        try {
          if (push->send(zmq::buffer(*bytes), zmq::send_flags::none)) break;
        } catch (const zmq::error_t& e) {
          if (e.num() == ETERM) return;
        }
      }
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
    char host[256] = {0};
    ::gethostname(host, sizeof(host) - 1);
    options.id = absl::StrCat(host, "-", ::getpid());
  }
  state->options = options;
  state->grader = std::make_unique<Grader>(options.grading);
  try {
    state->pull = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::pull);
    state->pull->set(zmq::sockopt::rcvtimeo, 100);
    state->pull->set(zmq::sockopt::rcvhwm, 64);
    state->push = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::push);
    state->push->set(zmq::sockopt::sndtimeo, 100);
    state->push->set(zmq::sockopt::linger, 5000);
    if (options.input_bind) {
      state->pull->bind(options.input);
    } else {
      state->pull->connect(options.input);
    }
    if (options.output_bind) {
      state->push->bind(options.output);
    } else {
      state->push->connect(options.output);
    }
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grader.input = ", options.input, ", grader.output = ", options.output, ": ", e.what()));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(),
                           &state->grpc_port);
  builder.RegisterService(state.get());
  state->grpc_server = builder.BuildAndStart();
  if (!state->grpc_server || state->grpc_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("grader.grpc_address = ", options.grpc_address, ": cannot listen there"));
  }
  State* s = state.get();
  auto exposer =
      metrics::Exposer::Start(options.metrics_address, &s->registry, [s] { s->RefreshGauges(); });
  if (!exposer.ok()) {
    state->grpc_server->Shutdown();
    return absl::InvalidArgumentError(absl::StrCat(
        "grader.metrics_address = ", options.metrics_address, ": ", exposer.status().message()));
  }
  s->exposer = std::move(*exposer);
  s->threads.emplace_back([s] { s->ReceiveLoop(); });
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
  state_->receiving = false;
  // The receiver stops within its 100 ms receive timeout and closes `incoming`; graders
  // drain it; then `outgoing` closes and the sender drains it.
  const size_t graders = static_cast<size_t>(state_->options.threads);
  state_->threads[0].join();
  for (size_t i = 1; i <= graders; ++i) state_->threads[i].join();
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
