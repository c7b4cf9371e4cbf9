// SHA-256 of a byte string, as 64 lowercase hex digits (OpenSSL's EVP digest).
//
//   std::string h = Sha256Hex(weights_bytes);   // "e3b0c442..." for ""
//
// Used for content hashes on the wire: a policy's weights carry one that the receiver checks
// before it swaps them in.
#ifndef R1RL_LIB_TRANSPORT_SHA256_H_
#define R1RL_LIB_TRANSPORT_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace r1rl::transport {

std::string Sha256Hex(std::string_view bytes);

// SHA-256 of a file's bytes, read in 1 MiB blocks; "" when the file cannot be read.
std::string Sha256File(const std::string& path);

// SHA-256 of bytes that arrive in pieces (a stream checked as it comes, then dropped).
//   Sha256Stream h;  h.Update(part1);  h.Update(part2);  std::string hex = h.HexDigest();
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  void Update(std::string_view bytes);
  std::string HexDigest();  // once

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lowercase hex of any byte string.
std::string HexOf(std::string_view bytes);

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_SHA256_H_
