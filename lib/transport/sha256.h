// SHA-256 of a byte string, as 64 lowercase hex digits (OpenSSL's EVP digest).
//
//   std::string h = Sha256Hex(weights_bytes);   // "e3b0c442..." for ""
//
// Used for content hashes on the wire: a policy's weights carry one that the receiver checks
// before it swaps them in.
#ifndef R1RL_LIB_TRANSPORT_SHA256_H_
#define R1RL_LIB_TRANSPORT_SHA256_H_

#include <string>
#include <string_view>

namespace r1rl::transport {

std::string Sha256Hex(std::string_view bytes);

// SHA-256 of a file's bytes, read in 1 MiB blocks; "" when the file cannot be read.
std::string Sha256File(const std::string& path);

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_SHA256_H_
