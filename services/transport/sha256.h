// SHA-256 of a byte string, as 64 lowercase hex digits (OpenSSL's EVP digest).
//
//   std::string h = Sha256Hex(weights_bytes);   // "e3b0c442..." for ""
//
// Used for content hashes on the wire: a policy's weights carry one that the receiver checks
// before it swaps them in.
#ifndef R1RL_SERVICES_TRANSPORT_SHA256_H_
#define R1RL_SERVICES_TRANSPORT_SHA256_H_

#include <string>
#include <string_view>

namespace r1rl::transport {

std::string Sha256Hex(std::string_view bytes);

}  // namespace r1rl::transport

#endif  // R1RL_SERVICES_TRANSPORT_SHA256_H_
