// Intra-op thread count of LibTorch, chosen together with the BLAS's own threads.
//
// Debian's LibTorch runs element-wise ops on an OpenMP pool and sends matrix products to
// OpenBLAS, which has its own pthread pool. With both pools at one thread per core they
// spin against each other on the same cores: measured on 2 cores (bench/decode_bench),
// batch-64 decode ran at 217 tokens/s with both pools at 2 threads, 474 with OpenBLAS at 1,
// and 720 with LibTorch at 1 and OpenBLAS at 2 (and the GEMM ceiling was highest so).
// So by default, when OpenBLAS threads the matrix products, LibTorch gets one thread.
#ifndef R1RL_LIB_RUNTIME_THREADS_H_
#define R1RL_LIB_RUNTIME_THREADS_H_

#include <cstdint>

#include "lib/config/config.h"

namespace r1rl::runtime {

// Sets LibTorch's intra-op threads to `requested` (config key runtime.threads) when > 0;
// with 0, to 1 when a multi-threaded OpenBLAS does the matrix products, else one per
// core. `blas_threads` > 0 (runtime.blas_threads) sets OpenBLAS's pool too: processes that
// share the cores (two rollout workers on two cores) each take their share rather than
// every pool spinning on every core. Returns LibTorch's count in effect.
int ConfigureThreads(int64_t requested, int64_t blas_threads = 0);
// The same from runtime.threads and runtime.blas_threads.
int ConfigureThreads(const config::Config& cfg);

// LibTorch's intra-op threads of the calling thread set to `threads` while in scope, then
// restored (OpenMP keeps the count per thread: other threads keep theirs). `threads` <= 0:
// nothing changes. The learner's element-wise work over (tokens x vocabulary) logits runs
// on every core this way while the sampler keeps one thread beside OpenBLAS's pool: on the
// 2-core VM the issue-24 step learned in 29-30 s with 2 threads against 39-49 s with 1
// (bench/grpo_step_bench --threads 2; docs/benchmarks.md).
class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int64_t threads);
  ~ScopedIntraOpThreads();
  ScopedIntraOpThreads(const ScopedIntraOpThreads&) = delete;
  ScopedIntraOpThreads& operator=(const ScopedIntraOpThreads&) = delete;

 private:
  int saved_ = 0;  // 0: nothing to restore
};

// One per core of this machine (at least 1).
int CoreCount();

}  // namespace r1rl::runtime

#endif  // R1RL_LIB_RUNTIME_THREADS_H_
