#include "lib/broadcast/collective_receiver.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/broadcast/collective_weights.h"
#include "lib/distributed/process_group.h"
#include "lib/transport/xxh3.h"

namespace r1rl::broadcast {
namespace {

using Clock = std::chrono::steady_clock;

absl::StatusOr<torch::ScalarType> TorchType(const std::string& dtype) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
      {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
      {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
      {"BOOL", torch::kBool}};
  auto it = kTypes.find(dtype);
  if (it == kTypes.end()) return absl::InvalidArgumentError(absl::StrCat("dtype ", dtype));
  return it->second;
}

}  // namespace

struct CollectiveReceiver::State {
  Receiver* rx = nullptr;
  CollectiveReceiverOptions options;
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  // The newest version received whole, waiting for TakeInto (names sorted, as the learner's).
  int64_t staged_version = -1;
  std::vector<std::string> staged_names;
  std::vector<at::Tensor> staged;
  CollectiveReceiverStats stats;

  std::unique_ptr<distributed::ProcessGroup> pg;  // the receiving thread's only
  int64_t pg_generation = 0;
  // Not tried again: the service breaks it and forms another (written under `mu`).
  int64_t failed_generation = 0;

  bool Stopped() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }

  void Failed(int64_t generation, const std::string& what) {
    spdlog::warn(
        "broadcast receiver {}: collective group generation {}: {}; the version comes "
        "through the relay chains",
        rx->id(), generation, what);
    pg.reset();
    pg_generation = 0;
    rx->CollectiveFailed(generation);
    std::lock_guard<std::mutex> lock(mu);
    failed_generation = generation;
    ++stats.failures;
    cv.notify_all();
  }

  // Joins generation `a` as its rank (leaving the one before).
  bool Meet(const v1::CollectiveAssignment& a) {
    pg.reset();
    pg_generation = 0;
    distributed::DistOptions d;
    d.rank = a.rank();
    d.world_size = a.world_size();
    const size_t colon = a.rendezvous().rfind(':');
    d.master_addr = a.rendezvous().substr(0, colon);
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(a.rendezvous().substr(colon + 1), &d.master_port)) {
      Failed(a.generation(), absl::StrCat("rendezvous \"", a.rendezvous(), "\" is not host:port"));
      return false;
    }
    d.backend = a.backend() == "nccl" ? distributed::Backend::kNccl : distributed::Backend::kGloo;
    d.timeout = options.timeout;
    d.interface = options.interface;
    auto g = distributed::ProcessGroup::Create(d, options.cuda);
    if (!g.ok()) {
      Failed(a.generation(), std::string(g.status().message()));
      return false;
    }
    pg = std::move(*g);
    pg_generation = a.generation();
    spdlog::info("broadcast receiver {}: in collective group generation {} as rank {} of {} ({})",
                 rx->id(), a.generation(), a.rank(), a.world_size(), a.backend());
    return true;
  }

  // Receives manifest `m`'s version through the group into fresh staging tensors.
  void Receive(const v1::CollectiveAssignment& a, const v1::Manifest& m) {
    std::vector<const v1::TensorEntry*> entries;
    for (const v1::TensorEntry& e : m.tensors()) entries.push_back(&e);
    std::sort(
        entries.begin(), entries.end(),
        [](const v1::TensorEntry* x, const v1::TensorEntry* y) { return x->name() < y->name(); });
    std::vector<std::string> names;
    std::vector<at::Tensor> tensors;
    const torch::Device device = options.cuda ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
    for (const v1::TensorEntry* e : entries) {
      auto type = TorchType(e->dtype());
      if (!type.ok()) {
        Failed(a.generation(), absl::StrCat("version ", m.version(), ": tensor \"", e->name(),
                                            "\": ", type.status().message()));
        return;
      }
      names.push_back(e->name());
      tensors.push_back(torch::empty(std::vector<int64_t>(e->shape().begin(), e->shape().end()),
                                     torch::TensorOptions().dtype(*type).device(device)));
    }
    auto wire = ParseFloatWire(a.wire());
    if (!wire.ok()) {
      Failed(a.generation(), std::string(wire.status().message()));
      return;
    }
    auto st = BroadcastWeights(*pg, 0, m.version(), names, tensors, a.bucket_bytes(), *wire);
    if (!st.ok()) {
      Failed(a.generation(), std::string(st.status().message()));
      return;
    }
    // The group's sockets are not authenticated: every tensor is checked against the hash in
    // the manifest, which came from the service over TLS.
    for (size_t i = 0; i < tensors.size(); ++i) {
      const at::Tensor host = tensors[i].to(torch::kCPU).contiguous();
      const std::string_view bytes(static_cast<const char*>(host.data_ptr()),
                                   static_cast<size_t>(host.numel() * host.element_size()));
      if (entries[i]->hash().size() != transport::kXxh128Bytes ||
          transport::Xxh128(bytes) != entries[i]->hash()) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ++stats.hash_failures;
        }
        Failed(a.generation(),
               absl::StrCat("version ", m.version(), ": tensor \"", names[i], "\" ",
                            entries[i]->hash().empty() ? "has no hash in the manifest to check"
                                                       : "does not match its hash",
                            ": refused"));
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      staged_version = m.version();
      staged_names = std::move(names);
      staged = std::move(tensors);
      ++stats.versions;
      stats.bytes += st->bytes;
      stats.last_seconds = st->seconds;
      stats.last_version = m.version();
      cv.notify_all();
    }
    rx->HeldThroughCollective(m.version());
  }

  void Loop() {
    uint64_t seen = 0;
    int64_t done = -1;  // the newest version received (or failed) here
    while (!Stopped()) {
      seen = rx->WaitForNews(seen, std::chrono::milliseconds(200));
      const std::optional<v1::CollectiveAssignment> a = rx->collective();
      if (!a) {
        if (pg) {  // out of the group (it failed, or this worker was dropped)
          pg.reset();
          pg_generation = 0;
        }
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();  // TakeInto: nothing comes this way
        continue;
      }
      const std::shared_ptr<const v1::Manifest> m = rx->announced();
      if (a->rendezvous().empty() || a->generation() == failed_generation || !m ||
          m->version() < a->version() || m->version() == done) {
        continue;
      }
      if (pg_generation != a->generation() && !Meet(*a)) continue;
      done = m->version();
      Receive(*a, *m);
    }
    pg.reset();
  }
};

CollectiveReceiver::CollectiveReceiver(std::unique_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<CollectiveReceiver>> CollectiveReceiver::Start(
    Receiver* receiver, CollectiveReceiverOptions options) {
  if (receiver == nullptr) return absl::InvalidArgumentError("no broadcast receiver");
  if (options.cuda && !torch::cuda::is_available()) {
    return absl::InvalidArgumentError(
        "broadcast.collective on CUDA: no CUDA device is visible to this worker");
  }
  auto s = std::make_unique<State>();
  s->rx = receiver;
  s->options = std::move(options);
  State* raw = s.get();
  s->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<CollectiveReceiver>(new CollectiveReceiver(std::move(s)));
}

CollectiveReceiver::~CollectiveReceiver() { Stop(); }

void CollectiveReceiver::Stop() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

absl::StatusOr<bool> CollectiveReceiver::TakeInto(int64_t version,
                                                  std::chrono::milliseconds timeout,
                                                  const LoadFn& load) {
  State& s = *state_;
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(s.mu);
  while (true) {
    const auto newest = s.rx->announced();
    if (AnswersRequest(s.staged_version, version, newest ? newest->version() : -1)) break;
    const auto a = s.rx->collective();
    if (s.stop || !a || a->generation() == s.failed_generation || version < a->version() ||
        Clock::now() >= deadline) {
      return false;
    }
    s.cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
  const int64_t v = s.staged_version;
  std::vector<std::string> names = std::move(s.staged_names);
  std::vector<at::Tensor> tensors = std::move(s.staged);
  s.staged_version = -1;
  s.staged_names.clear();
  s.staged.clear();
  lock.unlock();
  if (absl::Status st = load(v, names, tensors); !st.ok()) return st;
  return true;
}

CollectiveReceiverStats CollectiveReceiver::stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->stats;
}

}  // namespace r1rl::broadcast
