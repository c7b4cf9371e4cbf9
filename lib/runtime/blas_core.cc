#include "lib/runtime/blas_core.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace r1rl::runtime {
namespace {

// The decision, carried to the re-executed process and to children:
// "verify:<core>:<fallback>" (set just before exec), "chosen:<core>:<fallback>" (the GEMM
// check passed), "rejected:<core>:<fallback>" (it failed; OpenBLAS's own choice is kept).
// "off" disables the whole mechanism.
constexpr char kStateVar[] = "R1RL_BLAS_CORETYPE";
// For tests on CPUs OpenBLAS knows: the core name to act as if OpenBLAS had reported.
constexpr char kTestCoreVar[] = "R1RL_BLAS_TEST_CORENAME";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// How wide the kernels of a core are; -1 for a name not in the list.
int Rank(std::string_view corename) {
  const std::string c = Lower(corename);
  static const std::pair<const char*, int> kRanks[] = {
      {"unknown", 0},      {"katmai", 0},      {"coppermine", 0},     {"northwood", 0},
      {"prescott", 0},     {"banias", 0},      {"atom", 0},           {"core2", 0},
      {"penryn", 0},       {"dunnington", 0},  {"athlon", 0},         {"opteron", 0},
      {"opteron_sse3", 0}, {"barcelona", 0},   {"nano", 0},           {"bobcat", 0},
      {"nehalem", 1},      {"sandybridge", 2}, {"bulldozer", 2},      {"piledriver", 2},
      {"steamroller", 2},  {"excavator", 2},   {"haswell", 3},        {"zen", 3},
      {"skylakex", 4},     {"cooperlake", 5},  {"sapphirerapids", 5},
  };
  for (const auto& [name, rank] : kRanks) {
    if (c == name) return rank;
  }
  return -1;
}

struct State {
  std::string phase, core, fallback;
};

State ReadState() {
  State s;
  const char* v = std::getenv(kStateVar);
  if (v == nullptr) return s;
  std::string text(v);
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t p; (p = text.find(':', start)) != std::string::npos; start = p + 1)
    parts.push_back(text.substr(start, p - start));
  parts.push_back(text.substr(start));
  s.phase = parts[0];
  if (parts.size() > 1) s.core = parts[1];
  if (parts.size() > 2) s.fallback = parts[2];
  return s;
}

void WriteState(std::string_view phase, std::string_view core, std::string_view fallback) {
  const std::string v = std::string(phase) + ":" + std::string(core) + ":" + std::string(fallback);
  setenv(kStateVar, v.c_str(), 1);
}

std::string Describe(const CpuFeatures& cpu) {
  if (cpu.avx512f) return "AVX-512";
  if (cpu.avx2) return "AVX2";
  if (cpu.avx) return "AVX";
  return "SSE4.2";
}

void ReExec(char** argv) {
  execv("/proc/self/exe", argv);
  // Only on failure (no /proc): go on with OpenBLAS's own choice.
}

}  // namespace

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d) == 0) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.intel = std::strcmp(vendor, "GenuineIntel") == 0;
  f.amd = std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
  __get_cpuid(1, &a, &b, &c, &d);
  f.sse4_2 = (c >> 20) & 1;
  const bool osxsave = (c >> 27) & 1;
  const bool avx_cpu = (c >> 28) & 1, fma_cpu = (c >> 12) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
  f.avx = avx_cpu && os_avx;
  f.fma = fma_cpu && os_avx;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = os_avx && ((b >> 5) & 1);
    f.avx512f = os_avx512 && ((b >> 16) & 1);
    f.avx512dq = os_avx512 && ((b >> 17) & 1);
    f.avx512cd = os_avx512 && ((b >> 28) & 1);
    f.avx512bw = os_avx512 && ((b >> 30) & 1);
    f.avx512vl = os_avx512 && ((b >> 31) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = os_avx512 && ((a >> 5) & 1);
  }
  return f;
}

std::string BestCoreType(const CpuFeatures& cpu) {
  const bool skylakex =
      cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.avx512cd && cpu.fma;
  if (skylakex && cpu.avx512_bf16) return "Cooperlake";
  if (skylakex) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return cpu.amd ? "Zen" : "Haswell";
  if (cpu.avx) return "Sandybridge";
  if (cpu.sse4_2) return "Nehalem";
  return "";
}

bool IsGenericCore(std::string_view corename) {
  const int r = Rank(corename);
  return r >= 0 && r <= 1;
}

std::string CoreTypeToRequest(std::string_view corename, std::string_view best) {
  if (best.empty() || !IsGenericCore(corename)) return "";
  return Rank(best) > Rank(corename) ? std::string(best) : "";
}

std::string OpenBlasCoreName() {
  using CoreNameFn = char* (*)();
  auto fn = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name ? name : "";
}

bool GemmMatchesReference(int m, int n, int k) {
  using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*,
                           const float*, const float*, const int*, const float*, const int*,
                           const float*, float*, const int*);
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  if (sgemm == nullptr) return false;
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n),
      c(static_cast<size_t>(m) * n, 0.0f);
  uint32_t x = 12345;
  auto next = [&] {
    x = x * 1664525u + 1013904223u;
    return static_cast<float>(x >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  };
  for (float& v : a) v = next();
  for (float& v : b) v = next();
  const float alpha = 1.0f, beta = 0.0f;
  sgemm("N", "N", &m, &n, &k, &alpha, a.data(), &m, b.data(), &k, &beta, c.data(), &m);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double want = 0, scale = 0;
      for (int p = 0; p < k; ++p) {
        const double t = static_cast<double>(a[i + p * m]) * b[p + j * k];
        want += t;
        scale += std::abs(t);
      }
      // float32 accumulation in any order: |error| <= k * 2^-24 * sum |a||b| (and then some).
      const double got = c[i + j * m];
      if (!std::isfinite(got) || std::abs(got - want) > 1e-6 * k * scale + 1e-6) return false;
    }
  }
  return true;
}

void TuneBlasCoreType(char** argv) {
  const State state = ReadState();
  if (state.phase == "off") return;
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (state.phase == "verify") {
    if (user != nullptr && state.core == user && GemmMatchesReference()) {
      WriteState("chosen", state.core, state.fallback);
      return;
    }
    // The chosen kernels gave a wrong product (or the variable changed under us): run again
    // with OpenBLAS's own choice, and say so.
    unsetenv("OPENBLAS_CORETYPE");
    WriteState("rejected", state.core, state.fallback);
    ReExec(argv);
    return;
  }
  if (user != nullptr) return;  // the user's choice, or ours inherited from a parent
  if (state.phase == "rejected") return;
  const char* test_core = std::getenv(kTestCoreVar);
  const std::string corename = test_core ? test_core : OpenBlasCoreName();
  if (corename.empty()) return;  // not OpenBLAS
  const std::string want = CoreTypeToRequest(corename, BestCoreType(DetectCpuFeatures()));
  if (want.empty()) return;
  setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
  WriteState("verify", want, corename);
  ReExec(argv);
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kStateVar);
}

std::string DescribeCoreTypeChoice() {
  const std::string core = OpenBlasCoreName();
  if (core.empty()) return "not OpenBLAS";
  const State state = ReadState();
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const std::string cpu = Describe(DetectCpuFeatures());
  if (state.phase == "chosen" && user != nullptr && state.core == user) {
    return core + " (chosen by r1rl: OpenBLAS fell back to " + state.fallback + " on a CPU with " +
           cpu + "; a GEMM check matched the reference; set " +
           "OPENBLAS_CORETYPE yourself to choose, or R1RL_BLAS_CORETYPE=off)";
  }
  if (state.phase == "rejected") {
    return core + " (OpenBLAS's own choice: r1rl tried " + state.core + " instead of " +
           state.fallback + " but its GEMM did not match the reference)";
  }
  if (user != nullptr) {
    return core + " (OPENBLAS_CORETYPE=" + std::string(user) + ", set by you)";
  }
  if (state.phase == "off") return core + " (OpenBLAS's own choice; R1RL_BLAS_CORETYPE=off)";
  return core + " (OpenBLAS's own choice for a CPU with " + cpu + ")";
}

}  // namespace r1rl::runtime
