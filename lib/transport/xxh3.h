// XXH3-128 of a byte string (Debian's libxxhash): the integrity hash of weight chunks. Not a
// cryptographic hash (SHA-256 is, sha256.h): it catches corruption on the wire and in memory
// at ~10x SHA-256's speed, so a receiver can check a chunk while the next one is in flight.
// Who may publish weights at all is the control plane's business (tokens, TLS).
//
//   std::string h = Xxh128(chunk);      // 16 bytes, big-endian (high half first)
//   std::string hex = HexOf(h);         // 32 lowercase hex digits (sha256.h)
#ifndef R1RL_LIB_TRANSPORT_XXH3_H_
#define R1RL_LIB_TRANSPORT_XXH3_H_

#include <string>
#include <string_view>

namespace r1rl::transport {

inline constexpr size_t kXxh128Bytes = 16;

std::string Xxh128(std::string_view bytes);

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_XXH3_H_
