#include "lib/transport/xxh3.h"

#include <xxhash.h>

namespace r1rl::transport {

std::string Xxh128(std::string_view bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  return std::string(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest));
}

}  // namespace r1rl::transport
