#include "lib/distributed/c10d_data_parallel.h"

#include <torch/torch.h>

#include "lib/model/causal_lm.h"
#include "lib/model/policy.h"

namespace r1rl::distributed {

struct C10dDataParallel::Buffers {
  struct Bucket {
    std::vector<torch::Tensor> params;
    torch::Tensor flat;
  };
  std::vector<Bucket> buckets;
};

C10dDataParallel::C10dDataParallel(ProcessGroup* pg, int64_t bucket_bytes)
    : pg_(pg), bucket_bytes_(bucket_bytes) {}

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

}  // namespace r1rl::distributed
