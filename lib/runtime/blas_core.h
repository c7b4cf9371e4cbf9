// Choosing OpenBLAS's kernels when OpenBLAS does not recognise the CPU. Torch-free.
//
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH: when it loads, it reads the CPU's
// model and picks kernels for it. On CPUs newer than it knows (current Xeons among them) it
// falls back to its Prescott kernels (SSE3, 2004): float32 GEMM at a quarter of the speed the
// CPU's AVX-512 or AVX2 kernels give. OpenBLAS reads OPENBLAS_CORETYPE only while it loads,
// which is before main() runs, so the fix is to re-execute the binary with it set:
//
//   int main(int argc, char** argv) {
//     r1rl::runtime::TuneBlasCoreType(argv);   // first line: may execv() this binary again
//     ...
//
// TuneBlasCoreType does nothing when OPENBLAS_CORETYPE is already set (the user's choice
// always wins), when the BLAS in the process is not OpenBLAS, or when OpenBLAS chose a core
// of its own that is not a generic fallback. Otherwise it picks the best core the CPU and the
// OS support (BestCoreType), re-executes the binary once with OPENBLAS_CORETYPE set, and in
// the new process checks a small GEMM against a double-precision reference; when that check
// fails it re-executes once more without the variable. The decision travels in the
// environment variable R1RL_BLAS_CORETYPE (for child processes and for `r1rl doctor`).
#ifndef R1RL_LIB_RUNTIME_BLAS_CORE_H_
#define R1RL_LIB_RUNTIME_BLAS_CORE_H_

#include <string>
#include <string_view>

namespace r1rl::runtime {

// What the CPU can run and the OS has enabled (XSAVE state for AVX and AVX-512).
struct CpuFeatures {
  bool intel = false, amd = false;
  bool sse4_2 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
  bool avx512_bf16 = false;
};

// This CPU's features, from CPUID and XGETBV.
CpuFeatures DetectCpuFeatures();

// The OpenBLAS core type with the widest kernels `cpu` runs ("Cooperlake", "SkylakeX",
// "Haswell", "Zen", "Sandybridge", "Nehalem"), or "" when none is better than Prescott.
std::string BestCoreType(const CpuFeatures& cpu);

// Whether `corename` (openblas_get_corename()) is one OpenBLAS falls back to on a CPU it does
// not know: the SSE-era cores (Prescott, Core2, Penryn, Dunnington, Nehalem, Atom, ...).
bool IsGenericCore(std::string_view corename);

// The core a process should ask for, or "" to leave OpenBLAS alone: `best` when OpenBLAS
// fell back to a generic core and `best` ranks above it.
std::string CoreTypeToRequest(std::string_view corename, std::string_view best);

// The name OpenBLAS gives its kernels in this process, or "" when OpenBLAS is not loaded.
std::string OpenBlasCoreName();

// Runs an m x n x k float32 GEMM through the process's sgemm_ and compares it with a
// double-precision product of the same inputs. False when there is no sgemm_ or an entry
// is off by more than float rounding allows.
bool GemmMatchesReference(int m = 67, int n = 45, int k = 129);

// See the top of this file. Call it first in main(); it returns normally unless it execs.
void TuneBlasCoreType(char** argv);

// One line for `r1rl doctor` and start-up logs: the kernels in use and who chose them, e.g.
// "SkylakeX (chosen by r1rl: OpenBLAS fell back to Prescott on a CPU with AVX-512; a GEMM
// check matched the reference)" or "Haswell (OPENBLAS_CORETYPE=Haswell, set by you)".
std::string DescribeCoreTypeChoice();

}  // namespace r1rl::runtime

#endif  // R1RL_LIB_RUNTIME_BLAS_CORE_H_
