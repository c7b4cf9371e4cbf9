#include "services/rollout_worker/rollout_worker.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "lib/broadcast/collective_receiver.h"
#include "lib/broadcast/receiver.h"
#include "lib/metrics/exposer.h"
#include "lib/metrics/metrics.h"
#include "lib/model/generation_config.h"
#include "lib/model/policy.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/transport/host_name.h"
#include "lib/transport/sha256.h"
#include "lib/transport/zmq_pipe.h"
#include "r1rl/v1/controller.grpc.pb.h"
#include "r1rl/v1/worker.grpc.pb.h"
#include "services/rollout_worker/worker_metrics.h"

namespace r1rl::rollout {

using Clock = std::chrono::steady_clock;

int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct RolloutWorker::State : public v1::RolloutWorker::Service, public WorkerMetrics {
  RolloutWorkerOptions options;
  const Clock::time_point started = Clock::now();
  std::string host;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  // What Status reports, read from gRPC's threads: written under `status_mu`.
  mutable std::mutex status_mu;
  std::string state = "registering";
  int64_t leases_taken = 0;
  int64_t weight_fetches = 0;
  ~State() {  // in-flight Status calls read the members: stop serving first
    if (grpc_server)
      grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  std::unique_ptr<model::Policy> policy;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Controller::Stub> stub;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> push;
  std::string id;
  int group_size = 1;
  std::chrono::milliseconds heartbeat_interval{2000};
  int64_t policy_version = -1;  // of the weights this worker samples with (-1: from disk)
  bool learner_has_weights = true;
  RolloutWorkerStats stats;
  std::string broadcast_address;  // from the controller ("": none)

  std::unique_ptr<metrics::Exposer> exposer;
  // Weights through the param-broadcast service (also a relay for the next worker); declared
  // last, so it stops first.
  std::unique_ptr<broadcast::Receiver> receiver;
  std::unique_ptr<broadcast::CollectiveReceiver> collective;  // stops before `receiver`

  void SetState(const char* s) {
    std::lock_guard<std::mutex> lock(status_mu);
    state = s;
  }

  grpc::Status Status(grpc::ServerContext*, const v1::WorkerStatusRequest*,
                      v1::WorkerStatus* out) override {
    std::lock_guard<std::mutex> lock(status_mu);
    out->set_worker_id(id);
    out->set_controller(options.controller);
    out->set_state(state);
    out->set_policy_version(policy_version);
    out->set_tokens_generated(stats.tokens_generated);
    out->set_generate_seconds(stats.generate_seconds);
    out->set_groups_pushed(stats.groups_pushed);
    out->set_leases_taken(leases_taken);
    out->set_weight_fetches(weight_fetches);
    out->set_uptime_seconds(std::chrono::duration<double>(Clock::now() - started).count());
    out->set_group_size(group_size);
    return grpc::Status::OK;
  }

  // Counters to the controller; it answers with the newest version (and counts this as a
  // heartbeat).
  void Report() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::WorkerReport req;
    {
      std::lock_guard<std::mutex> lock(status_mu);
      req.set_worker_id(id);
      req.set_policy_version(policy_version);
      req.set_tokens_generated(stats.tokens_generated);
      req.set_generate_seconds(stats.generate_seconds);
      req.set_groups_pushed(stats.groups_pushed);
      req.set_weight_fetches(weight_fetches);
    }
    req.set_metrics_address(absl::StrCat(host, ":", exposer->port()));
    req.set_grpc_address(absl::StrCat(host, ":", grpc_port));
    v1::ReportStatusResponse resp;
    (void)stub->ReportStatus(&ctx, req, &resp);
  }

  absl::Status Register(const std::atomic<bool>& stop) {
    SetState("registering");
    while (!stop) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::RegisterRequest req;
      req.set_worker_id(options.worker_id);
      req.set_kind("rollout_worker");
      req.set_host(host);
      v1::RegisterResponse resp;
      grpc::Status s = stub->Register(&ctx, req, &resp);
      if (s.ok()) {
        std::lock_guard<std::mutex> lock(status_mu);
        id = resp.worker_id();
        group_size = std::max(1, resp.group_size());
        heartbeat_interval = std::chrono::milliseconds(std::max(100, resp.heartbeat_interval_ms()));
        broadcast_address = resp.broadcast_address();
        spdlog::info("worker {}: registered with {} (G = {}; weights {})", id, options.controller,
                     group_size,
                     broadcast_address.empty() ? "from the controller"
                                               : "through the broadcast at " + broadcast_address);
        return StartReceiver();
      }
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return absl::FailedPreconditionError(
            absl::StrCat("register with ", options.controller, ": ", s.error_message()));
      }
      std::this_thread::sleep_for(options.idle_backoff);
    }
    return absl::CancelledError("stopped before registering");
  }

  void Push(const std::string& bytes, const std::atomic<bool>& stop) {
    transport::SendBlocking(*push, bytes, [&] { return !stop.load(); });
  }

  absl::Status FetchFailed(const std::string& reason, const std::string& detail) {
    m_fetch_failures.Add({{"reason", reason}}).Increment();
    return absl::DataLossError(absl::StrCat("weights: ", detail));
  }

  // Joins the param-broadcast service the controller named (once).
  absl::Status StartReceiver() {
    if (broadcast_address.empty() || receiver) return absl::OkStatus();
    broadcast::ReceiverOptions ro;
    ro.security = options.security;
    ro.service = broadcast_address;
    ro.bind = options.relay_address;
    ro.advertise_host = options.advertise_host;
    ro.receiver_id = id;
    ro.collective = options.collective;
    auto rx = broadcast::Receiver::Start(ro);
    if (!rx.ok()) return rx.status();
    receiver = std::move(*rx);
    if (options.collective) {
      broadcast::CollectiveReceiverOptions co;
      co.timeout = options.collective_timeout;
      auto crx = broadcast::CollectiveReceiver::Start(receiver.get(), co);
      if (!crx.ok()) return crx.status();
      collective = std::move(*crx);
    }
    return absl::OkStatus();
  }

  // Brings the weights to `version` between batches: through the broadcast when there is one
  // (waiting while the version is on its way), else, or when it does not come, from the
  // controller.
  absl::Status UpdateWeights(int64_t version) {
    if (collective) {  // through the learner's collective group, when in one that sends it
      const auto start = Clock::now();
      auto took = collective->TakeInto(version, std::chrono::milliseconds(options.weights_wait_ms),
                                       [&](int64_t v, const std::vector<std::string>& names,
                                           const std::vector<at::Tensor>& tensors) {
                                         RETURN_IF_ERROR(policy->LoadWeightsFrom(
                                             names, tensors, absl::StrCat("policy version ", v)));
                                         Loaded(v, start, "collective group", 0);
                                         return absl::OkStatus();
                                       });
      if (!took.ok()) return FetchFailed("load", std::string(took.status().message()));
      if (*took) return absl::OkStatus();
    }
    if (receiver) {
      const auto start = Clock::now();
      const auto deadline = start + std::chrono::milliseconds(options.weights_wait_ms);
      while (Clock::now() < deadline) {
        if (auto got = receiver->WaitFor(version, std::chrono::milliseconds(100)))
          return LoadWeights(got->version, std::move(got->bytes), start, "broadcast");
        // A few seconds' grace (a receiver still joining, a version still being announced);
        // then a service that does not answer, or never got this version (the learner could
        // not publish there), sends the worker to the controller, which has it.
        if (Clock::now() - start > std::chrono::seconds(3) &&
            (!receiver->connected() || receiver->announced_version() < version))
          break;
      }
      m_fetch_failures.Add({{"reason", "broadcast_fallback"}}).Increment();
      spdlog::warn(
          "worker {}: version {} did not come through the broadcast; fetching it from "
          "the controller",
          id, version);
    }
    return FetchWeights();
  }

  absl::Status LoadWeights(int64_t version, std::string bytes, Clock::time_point start,
                           const char* source) {
    const size_t total = bytes.size();
    if (auto st =
            policy->LoadWeightsFrom(std::move(bytes), absl::StrCat("policy version ", version));
        !st.ok()) {
      return FetchFailed("load", std::string(st.message()));
    }
    Loaded(version, start, source, total);
    return absl::OkStatus();
  }

  // Bookkeeping once `version` is in the model.
  void Loaded(int64_t version, Clock::time_point start, const char* source, size_t total) {
    {
      std::lock_guard<std::mutex> lock(status_mu);
      policy_version = version;
      ++weight_fetches;
    }
    learner_has_weights = true;
    m_fetches.Increment();
    m_version.Set(static_cast<double>(version));
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    m_fetch_seconds.Observe(secs);
    spdlog::info("worker {}: policy version {} loaded from the {} ({}{:.3f} s)", id, version,
                 source, total > 0 ? absl::StrCat(total, " bytes, ") : "", secs);
  }

  // Streams the learner's newest weights, checks size and SHA-256, then swaps them in.
  absl::Status FetchWeights() {
    const auto start = Clock::now();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    v1::FetchWeightsRequest req;
    req.set_worker_id(id);
    req.set_have_version(policy_version);
    auto reader = stub->FetchWeights(&ctx, req);
    v1::WeightsChunk chunk;
    std::string bytes, sha;
    int64_t version = -1, total = -1;
    while (reader->Read(&chunk)) {
      if (total < 0) {
        version = chunk.policy_version();
        total = chunk.total_bytes();
        sha = chunk.sha256();
        if (total < 0 || total > (int64_t{64} << 30))
          return FetchFailed("bad_header", absl::StrCat("total_bytes = ", total));
        bytes.reserve(static_cast<size_t>(total));
      }
      if (chunk.offset() != static_cast<int64_t>(bytes.size())) {
        return FetchFailed("bad_offset", absl::StrCat("chunk offset ", chunk.offset(), " where ",
                                                      bytes.size(), " was expected"));
      }
      bytes += chunk.data();
      if (static_cast<int64_t>(bytes.size()) > total)
        return FetchFailed("oversized", absl::StrCat("more than total_bytes = ", total));
    }
    grpc::Status s = reader->Finish();
    if (s.error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION) {  // no learner weights (a bare controller)
      if (learner_has_weights)
        spdlog::info("worker {}: the controller has no weights; sampling with {}", id,
                     options.model_dir);
      learner_has_weights = false;
      return absl::OkStatus();
    }
    if (!s.ok()) return FetchFailed("rpc", s.error_message());
    if (static_cast<int64_t>(bytes.size()) != total) {
      return FetchFailed("truncated", absl::StrCat(bytes.size(), " of ", total, " bytes"));
    }
    if (transport::Sha256Hex(bytes) != sha)
      return FetchFailed("hash_mismatch", absl::StrCat("version ", version, ": SHA-256 differs"));
    return LoadWeights(version, std::move(bytes), start, "controller");
  }

  // One lease round: lease, sample, push. False when there was nothing to do.
  absl::StatusOr<bool> Round(const std::atomic<bool>& stop, bool* exhausted) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options.lease_wait_ms) + std::chrono::seconds(10));
    v1::LeasePromptsRequest req;
    req.set_worker_id(id);
    req.set_max_prompts(options.prompts_per_lease);
    req.set_wait_ms(options.lease_wait_ms);
    SetState("waiting");
    v1::LeasePromptsResponse resp;
    grpc::Status s = stub->LeasePrompts(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {  // the controller restarted
      if (auto st = Register(stop); !st.ok()) return st;
      return false;
    }
    if (!s.ok()) {
      spdlog::warn("worker {}: LeasePrompts: {}", id, s.error_message());
      return false;
    }
    *exhausted = resp.dataset_exhausted();
    if (resp.leases_size() == 0) return false;
    const auto round_start = Clock::now();
    SetState("sampling");
    m_leases.Increment(resp.leases_size());
    {
      std::lock_guard<std::mutex> lock(status_mu);
      leases_taken += resp.leases_size();
    }
    if (resp.policy_version() != policy_version) {  // newer, or a restarted learner's older one
      // Between batches: sample the leased prompts with the newest weights. A failed fetch
      // keeps the old ones; the groups say which version drew them, and the learner's
      // staleness bound decides.
      if (auto st = UpdateWeights(resp.policy_version()); !st.ok())
        spdlog::warn("worker {}: {}", id, std::string(st.message()));
      if (!learner_has_weights) {
        std::lock_guard<std::mutex> lock(status_mu);
        policy_version = std::max<int64_t>(policy_version, resp.policy_version());
      }
    }
    m_lag.Set(static_cast<double>(resp.policy_version() - policy_version));
    std::vector<std::vector<int32_t>> prompts;
    for (const v1::PromptLease& l : resp.leases()) {
      prompts.push_back(
          tok->Encode(tokenizer::RenderPrompt(options.format, l.prompt(), options.system_prompt)));
    }
    // A group's draws depend on (generation.seed, policy version, dataset position) only: the
    // same whichever worker samples it, in whatever batch (a reissued lease, a resumed run).
    model::GenerationOptions g = options.generation;
    g.seed = options.generation.seed + 1000003ull * static_cast<uint64_t>(policy_version);
    std::vector<uint64_t> keys;
    for (const v1::PromptLease& l : resp.leases()) {
      keys.push_back(static_cast<uint64_t>(l.dataset_position()));
    }
    model::Generator generator(policy.get(), tok.get(), g);
    const auto start = Clock::now();
    auto completions = generator.Generate(prompts, group_size, keys);
    if (!completions.ok()) return completions.status();
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const int64_t sampled_at = UnixMillisNow();
    {
      std::lock_guard<std::mutex> lock(status_mu);
      stats.generate_seconds += secs;
      stats.tokens_generated += generator.last_generated_tokens();
    }
    m_generate_seconds.Increment(secs);
    m_tokens.Increment(static_cast<double>(generator.last_generated_tokens()));
    m_occupancy.Set(
        std::min(1.0, static_cast<double>(prompts.size() * static_cast<size_t>(group_size)) /
                          static_cast<double>(std::max<int64_t>(1, g.max_batch))));
    std::vector<v1::RolloutGroup> groups(static_cast<size_t>(resp.leases_size()));
    for (int i = 0; i < resp.leases_size(); ++i) {
      const v1::PromptLease& l = resp.leases(i);
      v1::RolloutGroup& grp = groups[static_cast<size_t>(i)];
      grp.set_lease_id(l.lease_id());
      grp.set_prompt_id(l.prompt_id());
      grp.set_dataset_position(l.dataset_position());
      grp.mutable_prompt_ids()->Add(prompts[static_cast<size_t>(i)].begin(),
                                    prompts[static_cast<size_t>(i)].end());
      *grp.mutable_reward() = l.reward();
      grp.set_policy_version(policy_version);
      grp.set_worker_id(id);
      grp.set_sampled_unix_ms(sampled_at);
      grp.set_generate_seconds(secs);
    }
    for (const model::Completion& c : *completions) {
      v1::Sample* smp = groups[static_cast<size_t>(c.prompt_index)].add_samples();
      smp->mutable_completion_ids()->Add(c.token_ids.begin(), c.token_ids.end());
      smp->mutable_behaviour_logprobs()->Add(c.logprobs.begin(), c.logprobs.end());
      smp->set_text(c.text);
      smp->set_finish_reason(model::FinishReasonName(c.finish_reason));
    }
    for (const v1::RolloutGroup& grp : groups) {
      Push(grp.SerializeAsString(), stop);
      {
        std::lock_guard<std::mutex> lock(status_mu);
        ++stats.groups_pushed;
      }
      m_groups.Increment();
    }
    m_round_seconds.Observe(std::chrono::duration<double>(Clock::now() - round_start).count());
    return true;
  }
};

absl::StatusOr<RolloutWorkerOptions> RolloutWorkerOptionsFromConfig(const config::Config& cfg) {
  RolloutWorkerOptions o;
  o.controller = cfg.GetString("worker.controller");
  o.output = cfg.GetString("worker.output");
  o.model_dir = cfg.GetString("worker.model");
  o.worker_id = cfg.GetString("worker.id");
  o.exit_when_done = cfg.GetBool("worker.exit_when_done");
  o.metrics_address = cfg.GetString("worker.metrics_address");
  auto security = security::SecurityFromConfig(cfg);
  if (!security.ok()) return security.status();
  o.security = *security;
  o.grpc_address = cfg.GetString("worker.grpc_address");
  o.relay_address = cfg.GetString("worker.relay_address");
  o.advertise_host = cfg.GetString("worker.advertise_host");
  const int64_t weights_wait = cfg.GetInt("worker.weights_wait_ms");
  if (weights_wait < 0 || weights_wait > 3600000)
    return absl::InvalidArgumentError(
        absl::StrCat("worker.weights_wait_ms = ", weights_wait, ": must be in 0..3600000"));
  o.weights_wait_ms = static_cast<int>(weights_wait);
  o.collective = cfg.GetBool("broadcast.collective");
  const int64_t collective_timeout = cfg.GetInt("broadcast.collective_timeout_s");
  if (collective_timeout < 1 || collective_timeout > 86400)
    return absl::InvalidArgumentError(absl::StrCat(
        "broadcast.collective_timeout_s = ", collective_timeout, ": must be in 1..86400"));
  o.collective_timeout = std::chrono::seconds(collective_timeout);
  const int64_t wait = cfg.GetInt("worker.lease_wait_ms");
  if (wait < 0 || wait > 30000)
    return absl::InvalidArgumentError(
        absl::StrCat("worker.lease_wait_ms = ", wait, ": must be in 0..30000"));
  o.lease_wait_ms = static_cast<int>(wait);
  const int64_t per = cfg.GetInt("worker.prompts_per_lease");
  if (per < 1 || per > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker.prompts_per_lease = ", per, ": must be in 1..1024"));
  }
  o.prompts_per_lease = static_cast<int>(per);
  if (o.model_dir.empty())
    return absl::InvalidArgumentError(
        "worker.model: empty (a folder with config.json, safetensors, tokenizer.json)");
  auto format = tokenizer::ParsePromptFormat(cfg.GetString("prompt.format"));
  if (!format.ok()) return format.status();
  o.format = *format;
  o.system_prompt = cfg.GetString("prompt.system");
  o.generation = model::GenerationOptionsFromConfig(cfg);
  return o;
}

RolloutWorker::RolloutWorker(std::unique_ptr<State> state) : state_(std::move(state)) {}
RolloutWorker::~RolloutWorker() = default;

absl::StatusOr<std::unique_ptr<RolloutWorker>> RolloutWorker::Create(RolloutWorkerOptions options) {
  auto state = std::make_unique<State>();
  auto policy = model::Policy::Load(options.model_dir, {});
  if (!policy.ok()) return policy.status();
  state->policy = std::move(*policy);
  auto tok = tokenizer::LoadTokenizer(options.model_dir + "/tokenizer.json");
  if (!tok.ok()) return tok.status();
  state->tok = std::move(*tok);
  auto channel =
      security::OpenChannel(options.controller, options.security, security::Role::kWorker);
  if (!channel.ok()) return channel.status();
  state->channel = std::move(*channel);
  state->stub = v1::Controller::NewStub(state->channel);
  auto curve = security::CurveClient(options.security, "worker", "learner");
  if (!curve.ok()) return curve.status();
  auto push = transport::OpenSocket(state->context, zmq::socket_type::push,
                                    {options.output, /*bind=*/false, 200, 64, 5000, *curve},
                                    "worker.output");
  if (!push.ok()) return push.status();
  state->push = std::move(*push);
  State* s = state.get();
  auto credentials = security::ServerCredentials(options.security, &s->registry);
  if (!credentials.ok()) return credentials.status();
  auto exposer_options = security::MetricsOptions(options.security);
  if (!exposer_options.ok()) return exposer_options.status();
  auto exposer =
      metrics::Exposer::Start(options.metrics_address, &s->registry, {}, *exposer_options);
  if (!exposer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "worker.metrics_address = ", options.metrics_address, ": ", exposer.status().message()));
  }
  state->exposer = std::move(*exposer);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, *credentials, &s->grpc_port);
  builder.RegisterService(static_cast<v1::RolloutWorker::Service*>(s));
  s->grpc_server = builder.BuildAndStart();
  if (!s->grpc_server || s->grpc_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker.grpc_address = ", options.grpc_address, ": cannot listen there"));
  }
  s->host = transport::HostName();
  state->options = std::move(options);
  return std::unique_ptr<RolloutWorker>(new RolloutWorker(std::move(state)));
}

absl::Status RolloutWorker::Run(const std::atomic<bool>& stop) {
  State& s = *state_;
  if (auto st = s.Register(stop); !st.ok()) return stop ? absl::OkStatus() : st;
  auto last_heartbeat = Clock::now();
  while (!stop) {
    if (Clock::now() - last_heartbeat > s.heartbeat_interval) {
      s.Report();
      last_heartbeat = Clock::now();
    }
    bool exhausted = false;
    auto did = s.Round(stop, &exhausted);
    if (!did.ok()) return did.status();
    if (!*did) {
      if (exhausted && s.options.exit_when_done) break;
      std::this_thread::sleep_for(s.options.idle_backoff);
    }
  }
  s.SetState("stopping");
  s.Report();
  spdlog::info("worker {}: {} groups pushed, {} tokens in {:.1f} s of sampling", s.id,
               s.stats.groups_pushed, s.stats.tokens_generated, s.stats.generate_seconds);
  s.push->close();  // linger: queued groups still go out
  return absl::OkStatus();
}

RolloutWorkerStats RolloutWorker::stats() const { return state_->stats; }
int RolloutWorker::metrics_port() const { return state_->exposer->port(); }
int RolloutWorker::grpc_port() const { return state_->grpc_port; }
const std::string& RolloutWorker::worker_id() const { return state_->id; }

}  // namespace r1rl::rollout
