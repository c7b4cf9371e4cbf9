// Synthetic weights for the broadcast benches: one safetensors byte string of `bytes` bytes in
// U8 tensors of 4 MiB, filled from `seed`; the first `changed` fraction of the tensors from
// seed + 1 (so that a version after another shares the rest of its chunks).
#ifndef R1RL_BENCH_SYNTHETIC_WEIGHTS_H_
#define R1RL_BENCH_SYNTHETIC_WEIGHTS_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "lib/safetensors/safetensors_writer.h"

namespace r1rl::bench {

inline std::string SyntheticWeights(int64_t bytes, uint32_t seed, double changed) {
  constexpr int64_t kTensor = int64_t{4} << 20;
  const int64_t n = std::max<int64_t>(1, (bytes + kTensor - 1) / kTensor);
  std::vector<std::string> data(static_cast<size_t>(n));
  std::vector<r1rl::safetensors::TensorView> views;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t size = std::min(kTensor, bytes - t * kTensor);
    const uint32_t s =
        (t < static_cast<int64_t>(changed * static_cast<double>(n))) ? seed + 1 : seed;
    uint64_t x =
        (static_cast<uint64_t>(s) << 32) ^ static_cast<uint64_t>(t) * 0x9e3779b97f4a7c15ull;
    std::string& d = data[static_cast<size_t>(t)];
    d.resize(static_cast<size_t>(std::max<int64_t>(0, size)));
    for (size_t i = 0; i + 8 <= d.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::memcpy(&d[i], &x, 8);
    }
    r1rl::safetensors::TensorView v;
    v.name = "t" + std::to_string(100000 + t);
    v.dtype = r1rl::safetensors::DType::kU8;
    v.shape = {static_cast<int64_t>(d.size())};
    v.data = reinterpret_cast<const uint8_t*>(d.data());
    v.nbytes = d.size();
    views.push_back(v);
  }
  return *r1rl::safetensors::SerializeSafetensors(views);
}

}  // namespace r1rl::bench

#endif  // R1RL_BENCH_SYNTHETIC_WEIGHTS_H_
