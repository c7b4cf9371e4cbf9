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

}  // namespace r1rl::runtime

#endif  // R1RL_LIB_RUNTIME_THREADS_H_
