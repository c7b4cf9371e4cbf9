#include "lib/runtime/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <thread>

namespace r1rl::runtime {
namespace {

// OpenBLAS's thread count, or 0 when the BLAS in use is not OpenBLAS.
int OpenBlasThreads() {
  using GetFn = int (*)();
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get != nullptr ? get() : 0;
}

void SetOpenBlasThreads(int n) {
  using SetFn = void (*)(int);
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set != nullptr) set(n);
}

}  // namespace

int CoreCount() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int ConfigureThreads(int64_t requested, int64_t blas_threads) {
  if (blas_threads > 0) SetOpenBlasThreads(static_cast<int>(blas_threads));
  int n = static_cast<int>(requested);
  if (n <= 0) {
    n = OpenBlasThreads() > 1 ? 1 : CoreCount();
  }
  at::set_num_threads(n);
  return at::get_num_threads();
}

ScopedIntraOpThreads::ScopedIntraOpThreads(int64_t threads) {
  if (threads > 0 && threads != at::get_num_threads()) {
    saved_ = at::get_num_threads();
    at::set_num_threads(static_cast<int>(threads));
  }
}

ScopedIntraOpThreads::~ScopedIntraOpThreads() {
  if (saved_ > 0) at::set_num_threads(saved_);
}

int ConfigureThreads(const config::Config& cfg) {
  return ConfigureThreads(cfg.GetInt("runtime.threads"), cfg.GetInt("runtime.blas_threads"));
}

}  // namespace r1rl::runtime
