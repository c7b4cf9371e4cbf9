#include "lib/distributed/process_group.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace r1rl::distributed {
namespace {

// PyTorch 2.x split the process group into a dispatcher (c10d::ProcessGroup) and backends
// (c10d::Backend, which ProcessGroupGloo/NCCL derive from); 1.13's ProcessGroupGloo/NCCL derive
// from c10d::ProcessGroup itself. We hold the backend either way.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

using Clock = std::chrono::steady_clock;

constexpr char kWorldKey[] = "r1rl/world_size";
constexpr char kJoinedKey[] = "r1rl/joined";
constexpr char kErrorKey[] = "r1rl/error";
std::string RankKey(int r) { return absl::StrCat("r1rl/rank/", r); }
std::string AliveKey(int r) { return absl::StrCat("r1rl/alive/", r); }

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string String(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// The first line of an exception's text (c10 adds a C++ backtrace below it).
std::string FirstLine(const char* what) {
  std::string s(what);
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

c10::intrusive_ptr<c10d::TCPStore> Connect(const DistOptions& o, bool server) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.master_port);
  so.isServer = server;
  so.numWorkers = static_cast<size_t>(o.world_size);
  so.waitWorkers = false;  // the rendezvous below waits, naming who is missing
  so.timeout = o.timeout;
  return c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<BackendBase> pg;
  torch::Device device{torch::kCPU};
  // Heartbeat: its own store connection, written every second by `heartbeat`.
  std::mutex beat_mu;  // guards beat_store (the thread and Failed() use it)
  c10::intrusive_ptr<c10d::TCPStore> beat_store;
  std::thread heartbeat;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  mutable std::mutex stats_mu;
  Stats stats;
  // Started all-reduces by id (guarded by work_mu).
  std::mutex work_mu;
  std::map<int64_t, c10::intrusive_ptr<c10d::Work>> started;
  int64_t next_id = 0;
};

ProcessGroup::ProcessGroup(const DistOptions& options)
    : options_(options), impl_(std::make_unique<Impl>()) {}

ProcessGroup::~ProcessGroup() {
  if (impl_->heartbeat.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->stop_mu);
      impl_->stopping = true;
    }
    impl_->stop_cv.notify_all();
    impl_->heartbeat.join();
  }
  // Rank 0 hosts the store: keep it up a moment so that the others' last calls (a barrier's
  // bookkeeping, a heartbeat) do not fail on a closed socket.
  impl_->pg.reset();
}

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Create(const DistOptions& o, bool cuda,
                                                                   std::vector<int>* missing_out) {
  std::unique_ptr<ProcessGroup> g(new ProcessGroup(o));
  Impl& im = *g->impl_;
  std::string where = absl::StrCat(o.master_addr, ":", o.master_port);
  const double timeout_s = std::chrono::duration<double>(o.timeout).count();
  Backend backend = o.backend;
  if (backend == Backend::kAuto) backend = cuda ? Backend::kNccl : Backend::kGloo;
  g->backend_ = backend;
  if (backend == Backend::kNccl && !cuda) {
    return absl::InvalidArgumentError(
        "learner.dist_backend = nccl: the model is not on a CUDA device (runtime.device)");
  }
  if (cuda) im.device = torch::Device(torch::kCUDA, 0);

  // 1. The store: rank 0 serves it, the others connect (retrying until the timeout).
  try {
    im.store = Connect(o, o.rank == 0);
  } catch (const std::exception& e) {
    if (o.rank == 0) {
      return absl::InvalidArgumentError(absl::StrCat("learner.master_port = ", o.master_port,
                                                     ": rank 0 cannot serve the rendezvous at ",
                                                     where, ": ", FirstLine(e.what())));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous: rank ", o.rank, " could not reach rank 0's store at ", where,
                     " within ", timeout_s, " s (learner.master_addr/master_port, MASTER_ADDR/",
                     "MASTER_PORT): ", FirstLine(e.what())));
  }
  if (o.rank == 0) {  // master_port 0: the port the kernel gave the store
    g->options_.master_port = im.store->getPort();
    where = absl::StrCat(o.master_addr, ":", g->options_.master_port);
    if (o.on_listening) o.on_listening(g->options_.master_port);
  }

  // 2. Check in: world size as rank 0 has it, the rank not taken twice, then wait for all.
  try {
    if (o.rank == 0) im.store->set(kWorldKey, Bytes(std::to_string(o.world_size)));
    const std::string world0 = String(im.store->get(kWorldKey));
    if (world0 != std::to_string(o.world_size)) {
      const std::string msg = absl::StrCat("learner.world_size = ", o.world_size, " on rank ",
                                           o.rank, ", but rank 0 runs with world size ", world0);
      im.store->set(kErrorKey, Bytes(msg));
      return absl::InvalidArgumentError(msg);
    }
    if (im.store->add(RankKey(o.rank), 1) > 1) {
      const std::string msg = absl::StrCat("learner.rank = ", o.rank,
                                           ": another process already joined as rank ", o.rank);
      im.store->set(kErrorKey, Bytes(msg));
      return absl::InvalidArgumentError(msg);
    }
    im.store->add(kJoinedKey, 1);
    const auto deadline = Clock::now() + o.timeout;
    while (im.store->add(kJoinedKey, 0) < o.world_size) {
      if (im.store->check({kErrorKey})) {
        return absl::InvalidArgumentError(
            absl::StrCat("rendezvous: another rank failed: ", String(im.store->get(kErrorKey))));
      }
      if (Clock::now() > deadline) {
        std::vector<int> missing;
        for (int r = 0; r < o.world_size; ++r) {
          if (!im.store->check({RankKey(r)})) missing.push_back(r);
        }
        if (missing_out != nullptr) *missing_out = missing;
        return absl::DeadlineExceededError(absl::StrCat(
            "rendezvous at ", where, " did not complete within ", timeout_s, " s: rank(s) ",
            absl::StrJoin(missing, ", "), " of ", o.world_size, " never joined"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous at ", where, " (rank ", o.rank, "): ", FirstLine(e.what())));
  }

  // 3. The process group: PyTorch's own, over the same store.
  try {
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("pg", im.store);
    if (backend == Backend::kGloo) {
#ifdef USE_C10D_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(o.timeout);
      if (!o.interface.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(o.interface));
      } else if (o.master_addr == "127.0.0.1" || o.master_addr == "localhost") {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      im.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, o.rank, o.world_size, opts);
#else
      return absl::UnimplementedError(
          "learner.dist_backend = gloo: this build has no Gloo (install libgloo-dev and rebuild)");
#endif
    } else {
#ifdef USE_C10D_NCCL
      // A hung NCCL call must end in an error, not hang or kill the service: wait() blocks up
      // to the timeout and throws (blocking wait), and PyTorch's watchdog aborts the
      // communicators without tearing the process down (2: CleanUpOnly; PyTorch 2.x's
      // default, 3, kills it). Read when the group is made; a user's own setting wins.
      for (const char* name : {"TORCH_NCCL_BLOCKING_WAIT", "NCCL_BLOCKING_WAIT"})
        setenv(name, "1", /*overwrite=*/0);
      for (const char* name : {"TORCH_NCCL_ASYNC_ERROR_HANDLING", "NCCL_ASYNC_ERROR_HANDLING"})
        setenv(name, "2", /*overwrite=*/0);
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = o.timeout;
      im.pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, o.rank, o.world_size, opts);
#else
      return absl::UnimplementedError(
          "learner.dist_backend = nccl: this LibTorch has no NCCL (build against PyTorch's "
          "CUDA LibTorch)");
#endif
    }
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(absl::StrCat("c10d ", BackendName(backend),
                                                    " process group (rank ", o.rank, " of ",
                                                    o.world_size, "): ", FirstLine(e.what())));
  }

  // 4. The heartbeat.
  try {
    im.beat_store = Connect(g->options_, false);
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous heartbeat (rank ", o.rank, "): ", FirstLine(e.what())));
  }
  im.heartbeat = std::thread([&im, rank = o.rank] {
    std::unique_lock<std::mutex> lock(im.stop_mu);
    while (!im.stopping) {
      {
        std::lock_guard<std::mutex> beat(im.beat_mu);
        try {
          im.beat_store->add(AliveKey(rank), 1);
        } catch (const std::exception&) {  // rank 0 is gone: the collectives will say so
        }
      }
      im.stop_cv.wait_for(lock, std::chrono::seconds(1));
    }
  });
  return g;
}

absl::Status ProcessGroup::Failed(const std::string& what, const std::string& detail) {
  // Whose heartbeat stopped: read every rank's counter twice, 2.5 s apart.
  Impl& im = *impl_;
  std::string culprits;
  auto read = [&](std::vector<int64_t>* out) {
    std::lock_guard<std::mutex> beat(im.beat_mu);
    for (int r = 0; r < size(); ++r) out->push_back(im.beat_store->add(AliveKey(r), 0));
  };
  try {
    std::vector<int64_t> a, b;
    read(&a);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    read(&b);
    std::vector<int> dead;
    for (int r = 0; r < size(); ++r) {
      if (r != rank() && a[r] == b[r]) dead.push_back(r);
    }
    gone_ = dead;
    culprits = dead.empty()
                   ? "every rank's heartbeat still runs (a hung or slow rank?)"
                   : absl::StrCat("rank ", absl::StrJoin(dead, ", "),
                                  dead.size() == 1 ? " is" : " are", " gone (heartbeat stopped)");
  } catch (const std::exception&) {
    culprits = absl::StrCat("rank 0 is gone (its rendezvous store at ", options_.master_addr, ":",
                            options_.master_port, " does not answer)");
  }
  return absl::UnavailableError(
      absl::StrCat(what, " failed on rank ", rank(), " of ", size(), ": ", culprits, ": ", detail));
}

namespace {
c10d::ReduceOp ToC10d(ReduceOp op) {
  return op == ReduceOp::kMax ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
}
}  // namespace

absl::Status ProcessGroup::AllReduce(std::vector<at::Tensor>& tensors, ReduceOp op) {
  absl::StatusOr<int64_t> id = StartAllReduce(tensors, op);
  if (!id.ok()) return id.status();
  return Wait(*id);
}

absl::StatusOr<int64_t> ProcessGroup::StartAllReduce(std::vector<at::Tensor>& tensors,
                                                     ReduceOp op) {
  const auto start = Clock::now();
  double bytes = 0;
  for (const at::Tensor& t : tensors) bytes += static_cast<double>(t.nbytes());
  c10::intrusive_ptr<c10d::Work> work;
  try {
    c10d::AllreduceOptions opts;
    opts.reduceOp = ToC10d(op);
    opts.timeout = options_.timeout;
    work = impl_->pg->allreduce(tensors, opts);
  } catch (const std::exception& e) {
    return Failed("all-reduce", FirstLine(e.what()));
  }
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(impl_->work_mu);
    id = impl_->next_id++;
    impl_->started[id] = std::move(work);
  }
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  impl_->stats.allreduce_seconds += Seconds(start);
  impl_->stats.allreduce_bytes += bytes;
  impl_->stats.allreduce_calls += 1;
  return id;
}

absl::Status ProcessGroup::Wait(int64_t id) {
  const auto start = Clock::now();
  c10::intrusive_ptr<c10d::Work> work;
  {
    std::lock_guard<std::mutex> lock(impl_->work_mu);
    auto it = impl_->started.find(id);
    if (it == impl_->started.end())
      return absl::InvalidArgumentError("ProcessGroup::Wait: no started call " +
                                        std::to_string(id));
    work = std::move(it->second);
    impl_->started.erase(it);
  }
  try {
    work->wait(options_.timeout);
  } catch (const std::exception& e) {
    return Failed("all-reduce", FirstLine(e.what()));
  }
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  impl_->stats.allreduce_seconds += Seconds(start);
  return absl::OkStatus();
}

absl::Status ProcessGroup::Broadcast(at::Tensor& tensor, int root) {
  const auto start = Clock::now();
  try {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = options_.timeout;
    std::vector<at::Tensor> v = {tensor};
    auto work = impl_->pg->broadcast(v, opts);
    work->wait(options_.timeout);
  } catch (const std::exception& e) {
    return Failed("broadcast", FirstLine(e.what()));
  }
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  impl_->stats.other_seconds += Seconds(start);
  return absl::OkStatus();
}

absl::Status ProcessGroup::BroadcastBytes(std::string* bytes, int root) {
  const auto on = torch::TensorOptions().device(impl_->device);
  at::Tensor len = torch::full({1}, static_cast<int64_t>(bytes->size()), on.dtype(torch::kInt64));
  if (absl::Status s = Broadcast(len, root); !s.ok()) return s;
  const int64_t n = len.to(torch::kCPU).item<int64_t>();
  if (n == 0) {
    bytes->clear();
    return absl::OkStatus();
  }
  at::Tensor buf;
  if (rank() == root) {
    buf = torch::from_blob(bytes->data(), {n}, torch::kUInt8).to(impl_->device, false, true);
  } else {
    buf = torch::empty({n}, on.dtype(torch::kUInt8));
  }
  if (absl::Status s = Broadcast(buf, root); !s.ok()) return s;
  if (rank() != root) {
    at::Tensor cpu = buf.to(torch::kCPU).contiguous();
    bytes->assign(static_cast<const char*>(cpu.data_ptr()), static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status ProcessGroup::AllGather(std::vector<at::Tensor>& outputs, at::Tensor& input) {
  const auto start = Clock::now();
  try {
    c10d::AllgatherOptions opts;
    opts.timeout = options_.timeout;
    std::vector<std::vector<at::Tensor>> out = {outputs};
    std::vector<at::Tensor> in = {input};
    auto work = impl_->pg->allgather(out, in, opts);
    work->wait(options_.timeout);
  } catch (const std::exception& e) {
    return Failed("all-gather", FirstLine(e.what()));
  }
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  impl_->stats.other_seconds += Seconds(start);
  return absl::OkStatus();
}

absl::Status ProcessGroup::Barrier() {
  try {
    c10d::BarrierOptions opts;
    opts.timeout = options_.timeout;
    auto work = impl_->pg->barrier(opts);
    work->wait(options_.timeout);
  } catch (const std::exception& e) {
    return Failed("barrier", FirstLine(e.what()));
  }
  return absl::OkStatus();
}

ProcessGroup::Stats ProcessGroup::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace r1rl::distributed
