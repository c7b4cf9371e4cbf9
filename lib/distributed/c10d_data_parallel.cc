#include "lib/distributed/c10d_data_parallel.h"

#include <torch/torch.h>

#include "lib/model/causal_lm.h"
#include "lib/model/policy.h"
#include "lib/training/optimizer.h"

namespace r1rl::distributed {

struct C10dDataParallel::Buffers {
  struct Bucket {
    std::vector<torch::Tensor> params;
    torch::Tensor flat;
  };
  std::vector<Bucket> buckets;
};

C10dDataParallel::C10dDataParallel(ProcessGroup* pg, int64_t bucket_bytes, bool shard_optimizer)
    : pg_(pg), bucket_bytes_(bucket_bytes), shard_(shard_optimizer) {}

C10dDataParallel::~C10dDataParallel() = default;

absl::Status C10dDataParallel::AllReduce(std::vector<double>* values, Op op) {
  if (values->empty()) return absl::OkStatus();
  const torch::Device device = pg_->backend() == Backend::kNccl ? torch::Device(torch::kCUDA, 0)
                                                                : torch::Device(torch::kCPU);
  torch::Tensor t =
      torch::from_blob(values->data(), {static_cast<int64_t>(values->size())}, torch::kFloat64)
          .to(device, false, /*copy=*/true);
  std::vector<torch::Tensor> v = {t};
  if (absl::Status s = pg_->AllReduce(v, op == Op::kMax ? ReduceOp::kMax : ReduceOp::kSum);
      !s.ok()) {
    return s;
  }
  torch::Tensor cpu = t.to(torch::kCPU).contiguous();
  std::copy_n(cpu.data_ptr<double>(), values->size(), values->data());
  return absl::OkStatus();
}

absl::Status C10dDataParallel::ReduceGradients(model::Policy& policy) {
  torch::NoGradGuard no_grad;
  if (!buffers_) {
    buffers_ = std::make_unique<Buffers>();
    Buffers::Bucket current;
    int64_t bytes = 0;
    auto close = [&] {
      if (current.params.empty()) return;
      int64_t numel = 0;
      for (const torch::Tensor& p : current.params) numel += p.numel();
      current.flat = torch::zeros({numel}, current.params.front().options());
      buffers_->buckets.push_back(std::move(current));
      current = {};
      bytes = 0;
    };
    for (const torch::Tensor& p : policy.lm().parameters(/*recurse=*/true)) {
      if (!p.requires_grad()) continue;
      // A bucket holds one dtype and device (the flat buffer's).
      if (!current.params.empty() && (p.scalar_type() != current.params.front().scalar_type() ||
                                      p.device() != current.params.front().device())) {
        close();
      }
      current.params.push_back(p);
      bytes += static_cast<int64_t>(p.nbytes());
      if (bytes >= bucket_bytes_) close();
    }
    close();
  }
  buckets_ = static_cast<int64_t>(buffers_->buckets.size());
  for (Buffers::Bucket& b : buffers_->buckets) {
    int64_t at = 0;
    for (const torch::Tensor& p : b.params) {
      torch::Tensor slot = b.flat.narrow(0, at, p.numel());
      if (p.grad().defined()) {
        slot.copy_(p.grad().reshape({-1}));
      } else {
        slot.zero_();  // this rank's rows did not reach it: it adds nothing
      }
      at += p.numel();
    }
    std::vector<torch::Tensor> v = {b.flat};
    if (absl::Status s = pg_->AllReduce(v, ReduceOp::kSum); !s.ok()) return s;
    at = 0;
    for (const torch::Tensor& p : b.params) {
      torch::Tensor sum = b.flat.narrow(0, at, p.numel()).view(p.sizes());
      torch::Tensor& grad = const_cast<torch::Tensor&>(p).mutable_grad();
      if (grad.defined()) {
        grad.copy_(sum);
      } else {
        grad = sum.clone();
      }
      at += p.numel();
    }
  }
  return absl::OkStatus();
}

namespace {

std::vector<torch::Tensor> Trainable(model::Policy& policy) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : policy.lm().parameters(/*recurse=*/true)) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace

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
    const auto on = torch::TensorOptions().device(pg_->backend() == Backend::kNccl
                                                      ? torch::Device(torch::kCUDA, 0)
                                                      : torch::Device(torch::kCPU));
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
