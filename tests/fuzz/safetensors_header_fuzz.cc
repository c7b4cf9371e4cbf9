// Fuzzes SafetensorsFile::FromBuffer: any byte string must yield a Status or a file
// whose every view lies inside the buffer (ASan checks the reads below).
#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/safetensors/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = r1rl::safetensors::SafetensorsFile::FromBuffer(
      std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  if (!file.ok()) return 0;
  volatile uint8_t sink = 0;
  for (const r1rl::safetensors::TensorView& t : (*file)->tensors()) {
    for (size_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
    if ((*file)->Find(t.name) != &t) __builtin_trap();
  }
  return 0;
}
