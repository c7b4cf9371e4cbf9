// Choosing OpenBLAS's kernels: the core-type tables, the CPU features against the kernel's
// own /proc/cpuinfo, and the GEMM check against the BLAS this process really runs.
// (The re-execution itself is tested end to end with the r1rl binary: blas_coretype_test.sh.)
#include "lib/runtime/blas_core.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace r1rl::runtime {
namespace {

CpuFeatures Avx512Intel() {
  CpuFeatures f;
  f.intel = f.sse4_2 = f.avx = f.avx2 = f.fma = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512cd = true;
  return f;
}

TEST(BlasCore, BestCoreTypeFollowsTheWidestKernels) {
  CpuFeatures f = Avx512Intel();
  EXPECT_EQ(BestCoreType(f), "SkylakeX");
  f.avx512_bf16 = true;
  EXPECT_EQ(BestCoreType(f), "Cooperlake");
  f = Avx512Intel();
  f.avx512bw = false;  // AVX-512 without BW (Knights Landing): not SkylakeX's kernels
  EXPECT_EQ(BestCoreType(f), "Haswell");
  f.avx512f = false;
  f.amd = true;
  f.intel = false;
  EXPECT_EQ(BestCoreType(f), "Zen");
  f.avx2 = false;
  EXPECT_EQ(BestCoreType(f), "Sandybridge");
  f.avx = false;
  EXPECT_EQ(BestCoreType(f), "Nehalem");
  EXPECT_EQ(BestCoreType(CpuFeatures{}), "");
}

TEST(BlasCore, OnlyAGenericFallbackIsReplaced) {
  for (const char* generic : {"Prescott", "PRESCOTT", "Core2", "Penryn", "Nehalem", "Atom",
                              "Dunnington", "Unknown", "Barcelona"}) {
    EXPECT_TRUE(IsGenericCore(generic)) << generic;
  }
  for (const char* own : {"Haswell", "SkylakeX", "Cooperlake", "Zen", "Sandybridge", "Bulldozer",
                          "SapphireRapids", "SomethingNew", ""}) {
    EXPECT_FALSE(IsGenericCore(own)) << own;
  }
  EXPECT_EQ(CoreTypeToRequest("Prescott", "SkylakeX"), "SkylakeX");
  EXPECT_EQ(CoreTypeToRequest("Prescott", "Cooperlake"), "Cooperlake");
  EXPECT_EQ(CoreTypeToRequest("Nehalem", "Haswell"), "Haswell");
  EXPECT_EQ(CoreTypeToRequest("Nehalem", "Nehalem"), "");   // nothing better to ask for
  EXPECT_EQ(CoreTypeToRequest("Prescott", ""), "");         // a CPU with no SSE4.2
  EXPECT_EQ(CoreTypeToRequest("Haswell", "SkylakeX"), "");  // OpenBLAS chose on purpose
  EXPECT_EQ(CoreTypeToRequest("SkylakeX", "Cooperlake"), "");
  EXPECT_EQ(CoreTypeToRequest("SomethingNew", "SkylakeX"), "");
}

// The flags the kernel reports for the first CPU.
std::set<std::string> ProcCpuFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(BlasCore, CpuFeaturesAgreeWithTheKernel) {
  const std::set<std::string> flags = ProcCpuFlags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  const CpuFeatures f = DetectCpuFeatures();
  // /proc/cpuinfo lists what the CPU has and the kernel enabled (it clears AVX flags when
  // XSAVE is off), so the two must agree.
  EXPECT_EQ(f.sse4_2, flags.count("sse4_2") == 1);
  EXPECT_EQ(f.avx, flags.count("avx") == 1);
  EXPECT_EQ(f.avx2, flags.count("avx2") == 1);
  EXPECT_EQ(f.fma, flags.count("fma") == 1);
  EXPECT_EQ(f.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") == 1);
  EXPECT_EQ(f.avx512vl, flags.count("avx512vl") == 1);
  EXPECT_EQ(f.avx512_bf16, flags.count("avx512_bf16") == 1);
  std::cout << "best OpenBLAS core for this CPU: " << BestCoreType(f) << "; OpenBLAS chose "
            << OpenBlasCoreName() << "\n";
}

TEST(BlasCore, GemmCheckPassesOnThisProcesssBlas) {
  if (OpenBlasCoreName().empty()) GTEST_SKIP() << "the BLAS here is not OpenBLAS";
  EXPECT_TRUE(GemmMatchesReference());
  EXPECT_TRUE(GemmMatchesReference(1, 1, 1));
  EXPECT_TRUE(GemmMatchesReference(130, 70, 300));
  EXPECT_NE(DescribeCoreTypeChoice().find(OpenBlasCoreName()), std::string::npos);
}

}  // namespace
}  // namespace r1rl::runtime
