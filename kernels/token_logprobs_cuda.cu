#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/token_logprobs_cuda.h"

namespace r1rl::kernels::cuda {
namespace {

constexpr int kRowThreads = 512;   // threads per row in the statistics kernel (16 warps)
constexpr int kGradThreads = 256;  // threads per block in the elementwise gradient kernel
constexpr unsigned kFullMask = 0xffffffffu;

// Softmax statistics of a set of logits: max m, s = sum exp(z - m), t = sum exp(z - m) * z.
// lse = m + log s and sum softmax(z) z = t / s. The empty set is {-inf, 0, 0}.
struct SoftmaxStats {
  float m;
  float s;
  float t;
};

__device__ __forceinline__ SoftmaxStats Merge(const SoftmaxStats& a, const SoftmaxStats& b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  const float m = fmaxf(a.m, b.m);
  const float ea = expf(a.m - m);
  const float eb = expf(b.m - m);
  return {m, a.s * ea + b.s * eb, a.t * ea + b.t * eb};
}

__device__ __forceinline__ SoftmaxStats WarpMerge(SoftmaxStats st) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const SoftmaxStats other{__shfl_down_sync(kFullMask, st.m, offset),
                             __shfl_down_sync(kFullMask, st.s, offset),
                             __shfl_down_sync(kFullMask, st.t, offset)};
    st = Merge(st, other);
  }
  return st;
}

// One block per row: each thread folds a strided slice of the row into running statistics
// (one read of the logits), then warps and blocks merge them.
__global__ void RowStatsKernel(const float* __restrict__ z, const int64_t* __restrict__ targets,
                               int64_t vocab, float* __restrict__ lse, float* __restrict__ picked,
                               float* __restrict__ mean_z) {
  const int64_t row = blockIdx.x;
  const float* zr = z + row * vocab;
  SoftmaxStats st{-INFINITY, 0.f, 0.f};
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) {
    const float x = zr[v];
    if (x == -INFINITY) continue;  // contributes exp(-inf) = 0
    if (x > st.m) {
      const float e = expf(st.m - x);  // 0 while st is empty
      st.s = st.s * e + 1.f;
      st.t = st.t * e + x;
      st.m = x;
    } else {
      const float e = expf(x - st.m);
      st.s += e;
      st.t += e * x;
    }
  }
  st = WarpMerge(st);

  __shared__ SoftmaxStats warp_stats[32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_stats[warp] = st;
  __syncthreads();
  if (warp != 0) return;
  const int warps = static_cast<int>(blockDim.x >> 5);
  st = lane < warps ? warp_stats[lane] : SoftmaxStats{-INFINITY, 0.f, 0.f};
  st = WarpMerge(st);
  if (lane == 0) {
    lse[row] = st.m + logf(st.s);
    picked[row] = zr[targets[row]];
    if (mean_z != nullptr) mean_z[row] = st.t / st.s;
  }
}

// In place: z -> (g_logp (onehot - p) - g_ent p (log p + H)) * inv_tau, with log p = z - lse.
__global__ void LogitGradKernel(float* __restrict__ z, const int64_t* __restrict__ targets,
                                int64_t rows, int64_t vocab, const float* __restrict__ lse,
                                const float* __restrict__ g_logp, const float* __restrict__ entropy,
                                const float* __restrict__ g_ent, float inv_tau) {
  const int64_t n = rows * vocab;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t r = i / vocab;
    const int64_t v = i - r * vocab;
    const float logp = z[i] - lse[r];
    const float p = expf(logp);
    float dz = -g_logp[r] * p;
    if (g_ent != nullptr) dz -= g_ent[r] * p * (logp + entropy[r]);
    if (v == targets[r]) dz += g_logp[r];
    z[i] = dz * inv_tau;
  }
}

void CheckRowVector(const torch::Tensor& t, int64_t rows, const torch::Tensor& z,
                    const char* name) {
  TORCH_CHECK(t.defined() && t.is_cuda() && t.device() == z.device(), name, " must be a tensor on ",
              z.device());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == rows && t.is_contiguous(), name,
              " must be a contiguous vector of ", rows, " rows, got ", t.sizes());
}

void CheckLogits(const torch::Tensor& z, const torch::Tensor& targets) {
  TORCH_CHECK(
      z.is_cuda() && z.scalar_type() == torch::kFloat32 && z.dim() == 2 && z.is_contiguous(),
      "logits must be a contiguous float32 (rows, vocab) CUDA tensor, got ", z.scalar_type(), " ",
      z.sizes(), " on ", z.device());
  CheckRowVector(targets, z.size(0), z, "targets");
  TORCH_CHECK(targets.scalar_type() == torch::kInt64, "targets must be int64, got ",
              targets.scalar_type());
}

float* OptionalData(const torch::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

}  // namespace

void ChunkRowStatsCuda(const torch::Tensor& z, const torch::Tensor& targets, torch::Tensor& lse,
                       torch::Tensor& picked, torch::Tensor& mean_z) {
  CheckLogits(z, targets);
  const int64_t rows = z.size(0);
  CheckRowVector(lse, rows, z, "lse");
  CheckRowVector(picked, rows, z, "picked");
  if (mean_z.defined()) CheckRowVector(mean_z, rows, z, "mean_z");
  if (rows == 0) return;
  const c10::cuda::CUDAGuard guard(z.device());
  RowStatsKernel<<<static_cast<unsigned>(rows), kRowThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      z.data_ptr<float>(), targets.data_ptr<int64_t>(), z.size(1), lse.data_ptr<float>(),
      picked.data_ptr<float>(), OptionalData(mean_z));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void ChunkLogitGradCuda(torch::Tensor& z, const torch::Tensor& targets, const torch::Tensor& lse,
                        const torch::Tensor& g_logp, const torch::Tensor& entropy,
                        const torch::Tensor& g_ent, double inv_tau) {
  CheckLogits(z, targets);
  const int64_t rows = z.size(0);
  CheckRowVector(lse, rows, z, "lse");
  CheckRowVector(g_logp, rows, z, "g_logp");
  TORCH_CHECK(entropy.defined() == g_ent.defined(), "entropy and g_ent: both or neither");
  if (g_ent.defined()) {
    CheckRowVector(entropy, rows, z, "entropy");
    CheckRowVector(g_ent, rows, z, "g_ent");
  }
  const int64_t n = z.numel();
  if (n == 0) return;
  const c10::cuda::CUDAGuard guard(z.device());
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t wanted = (n + kGradThreads - 1) / kGradThreads;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(wanted, int64_t{sms} * 32));
  LogitGradKernel<<<blocks, kGradThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      z.data_ptr<float>(), targets.data_ptr<int64_t>(), rows, z.size(1), lse.data_ptr<float>(),
      g_logp.data_ptr<float>(), OptionalData(entropy), OptionalData(g_ent),
      static_cast<float>(inv_tau));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace r1rl::kernels::cuda
