// Ceilings of this machine measured through LibTorch, shared by the bench/ harnesses that
// report a share of them.
#ifndef R1RL_BENCH_BENCH_TORCH_H_
#define R1RL_BENCH_BENCH_TORCH_H_

#include <torch/torch.h>

#include "bench/bench_util.h"

namespace r1rl::bench {

// float32 GEMM GFLOP/s of an n x n x n torch::matmul, median of 5 runs.
inline double GemmGflops(int64_t n) {
  torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  const double s = MedianSeconds(5, [&] { torch::matmul(a, b); });
  return 2.0 * n * n * n / s / 1e9;
}

}  // namespace r1rl::bench

#endif  // R1RL_BENCH_BENCH_TORCH_H_
