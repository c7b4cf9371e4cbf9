// Tests' policy weights: a safetensors byte string of `tensors` float32 tensors of `floats`
// values each, filled from `seed` (tensor i's values depend on seed + i only, so two calls
// differing in one tensor's seed differ in that tensor's bytes alone).
#ifndef R1RL_LIB_BROADCAST_TEST_WEIGHTS_H_
#define R1RL_LIB_BROADCAST_TEST_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "lib/safetensors/safetensors_writer.h"

namespace r1rl::broadcast {

inline std::string TestWeights(int tensors, int floats, uint32_t seed, int changed_tensor = -1,
                               uint32_t changed_seed = 0) {
  std::vector<std::vector<float>> data(static_cast<size_t>(tensors));
  std::vector<safetensors::TensorView> views;
  for (int t = 0; t < tensors; ++t) {
    auto& d = data[static_cast<size_t>(t)];
    uint32_t x =
        (t == changed_tensor ? changed_seed : seed) * 2654435761u + static_cast<uint32_t>(t);
    for (int i = 0; i < floats; ++i) {
      x = x * 1664525u + 1013904223u;
      d.push_back(static_cast<float>(x >> 8) / 16777216.0f);
    }
    safetensors::TensorView v;
    v.name = "layer." + std::to_string(1000 + t) + ".weight";
    v.dtype = safetensors::DType::kF32;
    v.shape = {floats};
    v.data = reinterpret_cast<const uint8_t*>(d.data());
    v.nbytes = d.size() * sizeof(float);
    views.push_back(v);
  }
  return *safetensors::SerializeSafetensors(views);
}

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_TEST_WEIGHTS_H_
