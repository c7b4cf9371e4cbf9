#include "lib/distributed/c10d_data_parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <mutex>

#include "lib/model/causal_lm.h"
#include "lib/model/policy.h"
#include "lib/training/optimizer.h"

namespace r1rl::distributed {
namespace {

// The trainable parameters in module order (the same on every rank).
std::vector<torch::Tensor> Trainable(model::Policy& policy) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : policy.lm().parameters(/*recurse=*/true)) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace

struct C10dDataParallel::Buffers {
  struct Bucket {
    std::vector<torch::Tensor> params;
    std::vector<int64_t> offsets;  // each parameter's place in `flat`
    std::vector<char> filled;      // its final gradient is in `flat`
    int64_t remaining = 0;         // parameters not filled yet
    torch::Tensor flat;
    int64_t work = -1;  // the started all-reduce, or -1
  };
  std::vector<Bucket> buckets;
  // Hooks (installed on the first BeginFinalBackward; removed on destruction).
  std::vector<std::pair<torch::Tensor, unsigned>> hooks;
  std::mutex mu;  // the rest; hooks may run on the autograd engine's threads
  bool armed = false;
  size_t next = 0;  // the next bucket to start
  int64_t started_in_backward = 0;
  absl::Status error;

  // Puts parameter i's final gradient into its bucket: the accumulated .grad plus, from a
  // hook, `incoming` (what the running backward pass adds; not in .grad yet).
  void Fill(Bucket& b, size_t i, const torch::Tensor* incoming) {
    const torch::Tensor& p = b.params[i];
    torch::Tensor slot = b.flat.narrow(0, b.offsets[i], p.numel());
    const bool grad = p.grad().defined();
    if (grad && incoming != nullptr) {
      torch::add_out(slot, p.grad().reshape({-1}), incoming->reshape({-1}));
    } else if (grad || incoming != nullptr) {
      slot.copy_((grad ? p.grad() : *incoming).reshape({-1}));
    } else {
      slot.zero_();  // this rank's rows did not reach it: it adds nothing
    }
    b.filled[i] = 1;
    --b.remaining;
  }
  // Starts the buckets that are ready, in order (mu held).
  void StartReady(ProcessGroup* pg, bool all) {
    while (error.ok() && next < buckets.size()) {
      Bucket& b = buckets[next];
      if (all) {
        for (size_t i = 0; i < b.params.size(); ++i) {
          if (!b.filled[i]) Fill(b, i, nullptr);
        }
      }
      if (b.remaining > 0) return;
      std::vector<torch::Tensor> v = {b.flat};
      absl::StatusOr<int64_t> id = pg->StartAllReduce(v, ReduceOp::kSum);
      if (!id.ok()) {
        error = id.status();
        return;
      }
      b.work = *id;
      if (armed) ++started_in_backward;
      ++next;
    }
  }
};

C10dDataParallel::C10dDataParallel(ProcessGroup* pg, int64_t bucket_bytes, bool shard_optimizer,
                                   bool overlap)
    : pg_(pg), bucket_bytes_(bucket_bytes), shard_(shard_optimizer), overlap_(overlap) {}

C10dDataParallel::~C10dDataParallel() {
  if (!buffers_) return;
  for (auto& [param, handle] : buffers_->hooks) param.remove_hook(handle);
}

namespace {

// Where the backend's tensors live (NCCL: this process's GPU).
torch::Device CollectiveDevice(const ProcessGroup& pg) {
  return pg.backend() == Backend::kNccl ? torch::Device(torch::kCUDA, 0)
                                        : torch::Device(torch::kCPU);
}

}  // namespace

absl::Status C10dDataParallel::AllReduce(std::vector<double>* values, Op op) {
  if (values->empty()) return absl::OkStatus();
  torch::Tensor t =
      torch::from_blob(values->data(), {static_cast<int64_t>(values->size())}, torch::kFloat64)
          .to(CollectiveDevice(*pg_), false, /*copy=*/true);
  std::vector<torch::Tensor> v = {t};
  if (absl::Status s = pg_->AllReduce(v, op == Op::kMax ? ReduceOp::kMax : ReduceOp::kSum);
      !s.ok()) {
    return s;
  }
  torch::Tensor cpu = t.to(torch::kCPU).contiguous();
  std::copy_n(cpu.data_ptr<double>(), values->size(), values->data());
  return absl::OkStatus();
}

void C10dDataParallel::EnsureBuffers(model::Policy& policy) {
  if (buffers_) return;
  torch::NoGradGuard no_grad;
  buffers_ = std::make_unique<Buffers>();
  std::vector<torch::Tensor> params = Trainable(policy);
  std::reverse(params.begin(), params.end());  // backward makes the last ones final first
  Buffers::Bucket current;
  int64_t bytes = 0, numel = 0;
  auto close = [&] {
    if (current.params.empty()) return;
    current.flat = torch::zeros({numel}, current.params.front().options().requires_grad(false));
    current.filled.assign(current.params.size(), 0);
    current.remaining = static_cast<int64_t>(current.params.size());
    buffers_->buckets.push_back(std::move(current));
    current = {};
    bytes = numel = 0;
  };
  for (const torch::Tensor& p : params) {
    // A bucket holds one dtype and device (the flat buffer's).
    if (!current.params.empty() && (p.scalar_type() != current.params.front().scalar_type() ||
                                    p.device() != current.params.front().device())) {
      close();
    }
    current.params.push_back(p);
    current.offsets.push_back(numel);
    numel += p.numel();
    bytes += static_cast<int64_t>(p.nbytes());
    if (bytes >= bucket_bytes_) close();
  }
  close();
}

absl::Status C10dDataParallel::BeginFinalBackward(model::Policy& policy) {
  if (!overlap_) return absl::OkStatus();
  EnsureBuffers(policy);
  Buffers* buf = buffers_.get();
  if (buf->hooks.empty()) {
    for (size_t b = 0; b < buf->buckets.size(); ++b) {
      for (size_t i = 0; i < buf->buckets[b].params.size(); ++i) {
        torch::Tensor p = buf->buckets[b].params[i];
        // A leaf's hook sees the gradient this backward pass adds (all uses of the
        // parameter summed), before it is accumulated into .grad.
        const unsigned handle = p.register_hook([buf, this, b, i](const torch::Tensor& g) {
          torch::NoGradGuard no_grad;
          std::lock_guard<std::mutex> lock(buf->mu);
          if (!buf->armed || !buf->error.ok()) return;
          Buffers::Bucket& k = buf->buckets[b];
          if (k.filled[i]) {  // a leaf's hook runs once per backward pass
            buf->error = absl::InternalError(
                "data-parallel: a parameter's gradient arrived twice in one backward pass");
            return;
          }
          buf->Fill(k, i, &g);
          buf->StartReady(pg_, /*all=*/false);
        });
        buf->hooks.emplace_back(p, handle);
      }
    }
  }
  std::lock_guard<std::mutex> lock(buf->mu);
  buf->armed = true;
  return absl::OkStatus();
}

absl::Status C10dDataParallel::ReduceGradients(model::Policy& policy) {
  torch::NoGradGuard no_grad;
  EnsureBuffers(policy);
  Buffers& buf = *buffers_;
  std::lock_guard<std::mutex> lock(buf.mu);
  buf.armed = false;
  buf.StartReady(pg_, /*all=*/true);  // what backward did not start
  absl::Status status = buf.error;
  for (Buffers::Bucket& b : buf.buckets) {
    if (b.work >= 0) {
      absl::Status s = pg_->Wait(b.work);
      if (status.ok()) status = s;
    }
  }
  buckets_ = static_cast<int64_t>(buf.buckets.size());
  overlapped_ = buf.started_in_backward;
  for (Buffers::Bucket& b : buf.buckets) {
    if (status.ok()) {
      for (size_t i = 0; i < b.params.size(); ++i) {
        const torch::Tensor& p = b.params[i];
        torch::Tensor sum = b.flat.narrow(0, b.offsets[i], p.numel()).view(p.sizes());
        torch::Tensor& grad = const_cast<torch::Tensor&>(p).mutable_grad();
        if (grad.defined()) {
          grad.copy_(sum);
        } else {
          grad = sum.clone();
        }
      }
    }
    b.work = -1;
    std::fill(b.filled.begin(), b.filled.end(), 0);
    b.remaining = static_cast<int64_t>(b.params.size());
  }
  buf.next = 0;
  buf.started_in_backward = 0;
  buf.error = absl::OkStatus();
  return status;
}

absl::StatusOr<double> C10dDataParallel::OptimizerStep(model::Policy& policy,
                                                       learner::Optimizer& optimizer) {
  const double norm = optimizer.Step();
  if (!shard_) return norm;
  // All-gather: each rank's shard, flat, from that rank to all.
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = Trainable(policy);
  const std::vector<int>& owners = optimizer.owners();
  if (owners.size() != params.size())
    return absl::InternalError("ZeRO-1: the optimizer's shard map does not match the model");
  for (int r = 0; r < pg_->size(); ++r) {
    std::vector<torch::Tensor> mine;
    int64_t numel = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      if (owners[i] == r) mine.push_back(params[i]), numel += params[i].numel();
    }
    if (mine.empty()) continue;
    torch::Tensor flat;
    if (r == pg_->rank()) {
      std::vector<torch::Tensor> parts;
      for (const torch::Tensor& p : mine) parts.push_back(p.detach().reshape({-1}));
      flat = torch::cat(parts);
    } else {
      flat = torch::empty({numel}, mine.front().options().requires_grad(false));
    }
    if (absl::Status s = pg_->Broadcast(flat, r); !s.ok()) return s;
    if (r == pg_->rank()) continue;
    int64_t at = 0;
    for (const torch::Tensor& p : mine) {
      const_cast<torch::Tensor&>(p).copy_(flat.narrow(0, at, p.numel()).view(p.sizes()));
      at += p.numel();
    }
  }
  return norm;
}

absl::Status C10dDataParallel::GatherOptimizerState(learner::Optimizer& optimizer, int root) {
  if (!shard_ || optimizer.steps_taken() == 0) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  const std::vector<int>& owners = optimizer.owners();
  for (int r = 0; r < pg_->size(); ++r) {
    if (r == root) continue;
    std::vector<size_t> idx;
    for (size_t i = 0; i < owners.size(); ++i) {
      if (owners[i] == r) idx.push_back(i);
    }
    if (idx.empty()) continue;
    // Shapes: the root knows them from its own parameters (same model everywhere).
    std::vector<torch::Tensor> avg(idx.size()), sq(idx.size());
    int64_t numel = 0;
    bool have = true;
    for (size_t k = 0; k < idx.size(); ++k) {
      if (pg_->rank() == r) have = have && optimizer.GetMoments(idx[k], &avg[k], &sq[k]);
    }
    const auto on = torch::TensorOptions().device(CollectiveDevice(*pg_));
    torch::Tensor ok = torch::full({1}, have ? 1.0 : 0.0, on.dtype(torch::kFloat64));
    if (absl::Status s = pg_->Broadcast(ok, r); !s.ok()) return s;
    if (ok.item<double>() == 0.0) continue;  // that shard holds no state yet
    torch::Tensor flat;
    if (pg_->rank() == r) {
      std::vector<torch::Tensor> parts;
      for (auto& t : avg) parts.push_back(t.reshape({-1}));
      for (auto& t : sq) parts.push_back(t.reshape({-1}));
      flat = torch::cat(parts).to(on.dtype(torch::kFloat32));
      numel = flat.numel();
    }
    torch::Tensor n = torch::full({1}, static_cast<double>(numel), on.dtype(torch::kFloat64));
    if (absl::Status s = pg_->Broadcast(n, r); !s.ok()) return s;
    if (pg_->rank() != r)
      flat = torch::empty({static_cast<int64_t>(n.item<double>())}, on.dtype(torch::kFloat32));
    if (absl::Status s = pg_->Broadcast(flat, r); !s.ok()) return s;
    if (pg_->rank() != root) continue;
    const int64_t half = flat.numel() / 2;
    int64_t at = 0;
    for (size_t k = 0; k < idx.size(); ++k) {
      // The parameter's shape: root holds the same model; its numel drives the slicing.
      const std::vector<int64_t> shape = optimizer.ParameterShape(idx[k]);
      int64_t count = 1;
      for (int64_t d : shape) count *= d;
      optimizer.SetMoments(idx[k], flat.narrow(0, at, count).view(shape).clone(),
                           flat.narrow(0, half + at, count).view(shape).clone());
      at += count;
    }
  }
  return absl::OkStatus();
}

}  // namespace r1rl::distributed
