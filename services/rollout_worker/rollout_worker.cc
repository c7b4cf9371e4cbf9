#include "services/rollout_worker/rollout_worker.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <thread>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "r1rl/v1/controller.grpc.pb.h"
#include "services/model/generation_config.h"
#include "services/model/policy.h"
#include "services/tokenizer/tokenizer.h"

namespace r1rl::rollout {

using Clock = std::chrono::steady_clock;

struct RolloutWorker::State {
  RolloutWorkerOptions options;
  std::unique_ptr<model::Policy> policy;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Controller::Stub> stub;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> push;
  std::string id;
  int group_size = 1;
  std::chrono::milliseconds heartbeat_interval{2000};
  int64_t policy_version = 0;  // of the weights this worker samples with
  RolloutWorkerStats stats;
  uint64_t batches = 0;

  absl::Status Register(const std::atomic<bool>& stop) {
    char host[256] = {0};
    ::gethostname(host, sizeof(host) - 1);
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
        id = resp.worker_id();
        group_size = std::max(1, resp.group_size());
        heartbeat_interval = std::chrono::milliseconds(std::max(100, resp.heartbeat_interval_ms()));
        spdlog::info("worker {}: registered with {} (G = {})", id, options.controller, group_size);
        return absl::OkStatus();
      }
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE && s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return absl::FailedPreconditionError(absl::StrCat("register with ", options.controller, ": ", s.error_message()));
      }
      std::this_thread::sleep_for(options.idle_backoff);
    }
    return absl::CancelledError("stopped before registering");
  }

  void Push(const std::string& bytes, const std::atomic<bool>& stop) {
    while (!stop) {
      try {
        if (push->send(zmq::buffer(bytes), zmq::send_flags::none)) return;
      } catch (const zmq::error_t&) {
        return;
      }
    }
  }

  // One lease round: lease, sample, push. False when there was nothing to do.
  absl::StatusOr<bool> Round(const std::atomic<bool>& stop, bool* exhausted) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::LeasePromptsRequest req;
    req.set_worker_id(id);
    req.set_max_prompts(options.prompts_per_lease);
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
    std::vector<std::vector<int32_t>> prompts;
    for (const v1::PromptLease& l : resp.leases()) {
      prompts.push_back(tok->Encode(tokenizer::RenderPrompt(options.format, l.prompt(), options.system_prompt)));
    }
    model::GenerationOptions g = options.generation;
    g.seed = options.generation.seed + 1000003ull * ++batches + static_cast<uint64_t>(std::hash<std::string>{}(id) % 1000);
    model::Generator generator(policy.get(), tok.get(), g);
    const auto start = Clock::now();
    auto completions = generator.Generate(prompts, group_size);
    if (!completions.ok()) return completions.status();
    stats.generate_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    stats.tokens_generated += generator.last_generated_tokens();
    std::vector<v1::RolloutGroup> groups(static_cast<size_t>(resp.leases_size()));
    for (int i = 0; i < resp.leases_size(); ++i) {
      const v1::PromptLease& l = resp.leases(i);
      v1::RolloutGroup& grp = groups[static_cast<size_t>(i)];
      grp.set_lease_id(l.lease_id());
      grp.set_prompt_id(l.prompt_id());
      grp.mutable_prompt_ids()->Add(prompts[static_cast<size_t>(i)].begin(), prompts[static_cast<size_t>(i)].end());
      *grp.mutable_reward() = l.reward();
      grp.set_policy_version(policy_version);
      grp.set_worker_id(id);
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
      ++stats.groups_pushed;
    }
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
  const int64_t per = cfg.GetInt("worker.prompts_per_lease");
  if (per < 1 || per > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("worker.prompts_per_lease = ", per, ": must be in 1..1024"));
  }
  o.prompts_per_lease = static_cast<int>(per);
  if (o.model_dir.empty()) return absl::InvalidArgumentError("worker.model: empty (a folder with config.json, safetensors, tokenizer.json)");
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
  state->channel = grpc::CreateChannel(options.controller, grpc::InsecureChannelCredentials());
  state->stub = v1::Controller::NewStub(state->channel);
  try {
    state->push = std::make_unique<zmq::socket_t>(state->context, zmq::socket_type::push);
    state->push->set(zmq::sockopt::sndtimeo, 200);
    state->push->set(zmq::sockopt::linger, 5000);
    state->push->set(zmq::sockopt::sndhwm, 64);
    state->push->connect(options.output);
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(absl::StrCat("worker.output = ", options.output, ": ", e.what()));
  }
  state->options = std::move(options);
  return std::unique_ptr<RolloutWorker>(new RolloutWorker(std::move(state)));
}

absl::Status RolloutWorker::Run(const std::atomic<bool>& stop) {
  State& s = *state_;
  if (auto st = s.Register(stop); !st.ok()) return stop ? absl::OkStatus() : st;
  auto last_heartbeat = Clock::now();
  while (!stop) {
    if (Clock::now() - last_heartbeat > s.heartbeat_interval) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::HeartbeatRequest req;
      req.set_worker_id(s.id);
      req.set_policy_version(s.policy_version);
      v1::HeartbeatResponse resp;
      (void)s.stub->Heartbeat(&ctx, req, &resp);
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
  spdlog::info("worker {}: {} groups pushed, {} tokens in {:.1f} s of sampling", s.id, s.stats.groups_pushed,
               s.stats.tokens_generated, s.stats.generate_seconds);
  s.push->close();  // linger: queued groups still go out
  return absl::OkStatus();
}

RolloutWorkerStats RolloutWorker::stats() const { return state_->stats; }
const std::string& RolloutWorker::worker_id() const { return state_->id; }

}  // namespace r1rl::rollout
