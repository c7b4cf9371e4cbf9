#include "lib/runtime/blas_probe.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "lib/runtime/blas_core.h"

namespace r1rl::runtime {
namespace {

constexpr int kGemmRuns = 5;

// Path of the shared object that defines `symbol` in this process, or "".
std::string LibraryOf(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  if (address == nullptr) return "";
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  std::error_code ec;
  auto real = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::string(info.dli_fname) : real.string();
}

double TimeGemm(int64_t n) {
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({n, n});
  torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::matmul(a, b);  // warm-up
  std::vector<double> gflops;
  for (int i = 0; i < kGemmRuns; ++i) {
    auto start = std::chrono::steady_clock::now();
    c = torch::matmul(a, b);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gflops.push_back(2.0 * n * n * n / s / 1e9);
  }
  std::sort(gflops.begin(), gflops.end());
  return gflops[gflops.size() / 2];
}

}  // namespace

BlasReport ProbeBlas(int64_t n) {
  BlasReport report;
  report.gemm_size = n;
  report.gemm_gflops = TimeGemm(n);  // loads the BLAS if it is loaded lazily
  report.library = LibraryOf("sgemm_");
  if (report.library.empty()) {
    report.library = "none exported (LibTorch's own or a statically linked BLAS, e.g. MKL)";
  }
  using ConfigFn = char* (*)();
  if (auto fn = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    report.config = fn();
  }
  // Debian's reference BLAS lives in .../blas/libblas.so.3; OpenBLAS in .../openblas-*/.
  report.is_reference =
      report.config.empty() && report.library.find("/blas/libblas") != std::string::npos;
  return report;
}

std::string DescribeBlas(const BlasReport& r) {
  char rate[64];
  std::snprintf(rate, sizeof(rate), "%.1f", r.gemm_gflops);
  std::string out = "BLAS: " + r.library;
  if (!r.config.empty()) out += " (" + r.config + "; kernels " + DescribeCoreTypeChoice() + ")";
  out += ", float32 GEMM " + std::string(rate) + " GFLOP/s (n=" + std::to_string(r.gemm_size) + ")";
  if (r.is_reference) out += " [REFERENCE BLAS]";
  return out;
}

void LogBlasAtStartup() {
  BlasReport report = ProbeBlas();
  spdlog::info("{}", DescribeBlas(report));
  if (report.is_reference) {
    spdlog::warn(
        "the reference BLAS is in use: matrix products run ~30x slower. Install OpenBLAS "
        "(scripts/install-deps.sh installs libopenblas0-pthread) or select it with "
        "update-alternatives --config libblas.so.3-x86_64-linux-gnu");
  }
}

}  // namespace r1rl::runtime
