#include "lib/broadcast/collective_weights.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace r1rl::broadcast {
namespace {

std::string Shape(const at::Tensor& t) {
  std::string s;
  for (int64_t d : t.sizes()) absl::StrAppend(&s, s.empty() ? "" : "x", d);
  return s.empty() ? "scalar" : s;
}

// The dtype `t` travels in.
c10::ScalarType WireType(const at::Tensor& t, FloatWire wire) {
  if (wire == FloatWire::kAsIs) return t.scalar_type();
  const c10::ScalarType w = wire == FloatWire::kBFloat16 ? torch::kBFloat16 : torch::kFloat16;
  return t.scalar_type() == torch::kFloat32 || t.scalar_type() == w ? w : t.scalar_type();
}

// A contiguous tensor's bytes as a flat uint8 view sharing its storage.
at::Tensor Bytes(const at::Tensor& t) { return t.reshape({-1}).view(torch::kUInt8); }

// Why this rank cannot take part with these tensors ("" when it can).
std::string LocalProblem(const std::vector<std::string>& names,
                         const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  if (names.size() != tensors.size()) {
    return absl::StrCat(names.size(), " names for ", tensors.size(), " tensors");
  }
  if (bucket_bytes < 1) return absl::StrCat("bucket_bytes = ", bucket_bytes, ": must be >= 1");
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) return absl::StrCat("tensor ", names[i], " is undefined");
    if (!tensors[i].is_contiguous()) return absl::StrCat("tensor ", names[i], " is not contiguous");
    if (tensors[i].device() != tensors[0].device()) {
      return absl::StrCat("tensor ", names[i], " is on ", tensors[i].device().str(), ", tensor ",
                          names[0], " on ", tensors[0].device().str());
    }
  }
  return "";
}

// The first line where two plans differ, for the error.
std::string FirstDifference(const std::string& mine, const std::string& root) {
  std::istringstream a(mine), b(root);
  std::string la, lb;
  while (true) {
    const bool ga = static_cast<bool>(std::getline(a, la));
    const bool gb = static_cast<bool>(std::getline(b, lb));
    if (!ga && !gb) return "";
    if (!ga) return absl::StrCat("the root has \"", lb, "\" beyond this rank's tensors");
    if (!gb) return absl::StrCat("this rank has \"", la, "\" beyond the root's tensors");
    if (la != lb) return absl::StrCat("this rank has \"", la, "\" where the root has \"", lb, "\"");
  }
}

}  // namespace

const char* FloatWireName(FloatWire wire) {
  switch (wire) {
    case FloatWire::kBFloat16:
      return "bfloat16";
    case FloatWire::kFloat16:
      return "float16";
    default:
      return "as_is";
  }
}

absl::StatusOr<FloatWire> ParseFloatWire(const std::string& name) {
  for (FloatWire w : {FloatWire::kAsIs, FloatWire::kBFloat16, FloatWire::kFloat16}) {
    if (name == FloatWireName(w)) return w;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("wire = \"", name, "\": one of as_is, bfloat16, float16"));
}

std::string WeightPlan(int64_t version, const std::vector<std::string>& names,
                       const std::vector<at::Tensor>& tensors, FloatWire wire) {
  std::string plan = absl::StrCat(version, "\n");
  for (size_t i = 0; i < names.size() && i < tensors.size(); ++i) {
    absl::StrAppend(&plan, names[i], " ", c10::toString(WireType(tensors[i], wire)), " ",
                    Shape(tensors[i]), "\n");
  }
  return plan;
}

absl::StatusOr<CollectiveStats> BroadcastWeights(distributed::ProcessGroup& pg, int root,
                                                 int64_t version,
                                                 const std::vector<std::string>& names,
                                                 std::vector<at::Tensor>& tensors,
                                                 int64_t bucket_bytes, FloatWire wire) {
  const auto start = std::chrono::steady_clock::now();
  if (root < 0 || root >= pg.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("root = ", root, ": the group has ranks 0..", pg.size() - 1));
  }
  // 1. The plan, from the root; every rank says whether it matches (max of the flags).
  const std::string problem = LocalProblem(names, tensors, bucket_bytes);
  // The bucket size too: every rank must cut the stream the same way.
  const std::string mine = problem.empty() ? absl::StrCat("bucket_bytes ", bucket_bytes, "\n",
                                                          WeightPlan(version, names, tensors, wire))
                                           : "";
  std::string plan = mine;
  if (absl::Status s = pg.BroadcastBytes(&plan, root); !s.ok()) return s;
  std::string why = problem;
  if (why.empty() && plan.empty()) why = "the root's own tensors are unusable";
  if (why.empty() && plan != mine) why = FirstDifference(mine, plan);
  const auto device = tensors.empty() ? torch::Device(torch::kCPU) : tensors[0].device();
  at::Tensor flag = torch::full({1}, why.empty() ? 0 : 1,
                                torch::TensorOptions().dtype(torch::kInt32).device(device));
  std::vector<at::Tensor> flags = {flag};
  if (absl::Status s = pg.AllReduce(flags, distributed::ReduceOp::kMax); !s.ok()) return s;
  if (flags[0].to(torch::kCPU).item<int32_t>() != 0) {
    return absl::InvalidArgumentError(
        why.empty() ? absl::StrCat("version ", version,
                                   ": another rank's tensors differ from the root's plan; "
                                   "nothing was sent")
                    : absl::StrCat("version ", version, ", rank ", pg.rank(), ": ", why,
                                   "; nothing was sent"));
  }

  // 2. The bytes: all tensors as one stream (each in its wire dtype), cut into buckets.
  std::vector<int64_t> offset(tensors.size() + 1, 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    offset[i + 1] =
        offset[i] +
        tensors[i].numel() * static_cast<int64_t>(c10::elementSize(WireType(tensors[i], wire)));
  }
  const bool sender = pg.rank() == root;
  // A tensor whose dtype is not its wire dtype goes through a copy in the wire dtype: on the
  // root, narrowed once when its first byte is due; on a receiver, filled and then widened
  // into the tensor when its last byte has come. At most the tensors of one bucket at a time.
  std::map<size_t, at::Tensor> staged;
  auto wire_of = [&](size_t i) -> at::Tensor {
    const c10::ScalarType w = WireType(tensors[i], wire);
    if (tensors[i].scalar_type() == w) return tensors[i];
    auto it = staged.find(i);
    if (it == staged.end()) {
      it = staged
               .emplace(i, sender ? tensors[i].to(w).contiguous()
                                  : torch::empty(tensors[i].sizes(), tensors[i].options().dtype(w)))
               .first;
    }
    return it->second;
  };
  const int64_t total = offset.back();
  CollectiveStats stats;
  if (total > 0) {
    const int64_t cap = std::min(bucket_bytes, total);
    at::Tensor bucket =
        torch::empty({cap}, torch::TensorOptions().dtype(torch::kUInt8).device(device));
    size_t first = 0;  // the first tensor that reaches into the current bucket
    for (int64_t lo = 0; lo < total; lo += cap) {
      const int64_t hi = std::min(total, lo + cap);
      at::Tensor window = bucket.narrow(0, 0, hi - lo);
      while (offset[first + 1] <= lo) ++first;
      // Each tensor's overlap with [lo, hi): into the bucket on the root, out of it elsewhere.
      auto each = [&](auto&& copy) {
        for (size_t i = first; i < tensors.size() && offset[i] < hi; ++i) {
          const int64_t a = std::max(lo, offset[i]), b = std::min(hi, offset[i + 1]);
          if (b <= a) continue;
          copy(i, b == offset[i + 1], window.narrow(0, a - lo, b - a),
               Bytes(wire_of(i)).narrow(0, a - offset[i], b - a));
        }
      };
      if (sender) {
        each([&](size_t i, bool last, at::Tensor dst, const at::Tensor& src) {
          dst.copy_(src);
          if (last) staged.erase(i);
        });
      }
      if (absl::Status s = pg.Broadcast(window, root); !s.ok()) return s;
      if (!sender) {
        each([&](size_t i, bool last, const at::Tensor& src, at::Tensor dst) {
          dst.copy_(src);
          if (!last) return;
          if (auto it = staged.find(i); it != staged.end()) {
            tensors[i].copy_(it->second);  // widened into the receiver's dtype
            staged.erase(it);
          }
        });
      }
      stats.bytes += hi - lo;
      ++stats.buckets;
    }
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace r1rl::broadcast
