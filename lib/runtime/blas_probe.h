// Which BLAS LibTorch's float32 matrix products run on, and how fast they are here.
//
// Debian's LibTorch sends GEMMs to whatever libblas.so.3 the alternatives system selects;
// a fresh Debian has only the reference BLAS (~6 GFLOP/s on 2 cores against ~200 with
// OpenBLAS). Long jobs log this report at start-up and warn on the reference BLAS;
// `r1rl doctor` prints it.
//
// Thread-safety: ProbeBlas runs matrix products on LibTorch's intra-op pool; call it from
// one thread at a time.
#ifndef R1RL_LIB_RUNTIME_BLAS_PROBE_H_
#define R1RL_LIB_RUNTIME_BLAS_PROBE_H_

#include <string>

namespace r1rl::runtime {

struct BlasReport {
  std::string library;        // resolved path of the library that defines sgemm_, or a note
  std::string config;         // openblas_get_config() when OpenBLAS, else empty
  double gemm_gflops = 0;     // measured float32 GEMM rate, median of several runs
  int64_t gemm_size = 0;      // n of the n x n x n product timed
  bool is_reference = false;  // the slow reference BLAS (netlib) is in use
};

// Finds the BLAS and times a float32 n x n GEMM through LibTorch (n = 1024 by default).
BlasReport ProbeBlas(int64_t n = 1024);

// One line for logs: "BLAS: <library> (<config>), float32 GEMM 187.3 GFLOP/s (n=1024)".
std::string DescribeBlas(const BlasReport& report);

// Logs DescribeBlas at info, and a warning naming the fix when the reference BLAS is in use.
void LogBlasAtStartup();

}  // namespace r1rl::runtime

#endif  // R1RL_LIB_RUNTIME_BLAS_PROBE_H_
