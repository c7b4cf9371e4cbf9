// A policy version as the broadcast moves it: the safetensors byte string cut into chunks of
// a fixed size, each with its XXH3-128, and a hash of the whole (the XXH3-128 of the chunk
// hashes in order, so checking every chunk against a checked manifest checks the whole
// without a second pass over the bytes). Fixed offsets keep unchanged tensors in unchanged
// chunks between versions (same shapes, same header), so a receiver skips what it holds.
//
//   ASSIGN_OR_RETURN(v1::Manifest m, BuildManifest(7, bytes, 1 << 20));
//   RETURN_IF_ERROR(ValidateManifest(m, max_bytes));   // a manifest from the network
//   std::string_view c = ChunkOf(bytes, m, 3);
#ifndef R1RL_LIB_BROADCAST_MANIFEST_H_
#define R1RL_LIB_BROADCAST_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "r1rl/v1/broadcast.pb.h"

namespace r1rl::broadcast {

// The manifest of `bytes` (one safetensors file: InvalidArgument, naming the problem, when
// its header does not parse). chunk_bytes >= 1. With `tensor_hashes`, each tensor entry
// carries the XXH3-128 of its bytes too: what a receiver on the collective path checks the
// tensors it received against (a second pass over the bytes).
absl::StatusOr<v1::Manifest> BuildManifest(int64_t version, std::string_view bytes,
                                           int64_t chunk_bytes, bool tensor_hashes = false);

// The chunk size for a version of `total_bytes`: `chunk_bytes`, or the smallest multiple of
// 1 MiB above it that makes at most `max_chunks` chunks (max_chunks 0: no cap). A manifest
// costs ~30 bytes a chunk and every receiver gets it: 1.34 TB in 1 MiB chunks would be a 38 MB
// manifest per receiver per version (docs/scale.md). The same total gives the same size, so
// unchanged chunks of consecutive versions keep their hashes.
int64_t ChunkBytesFor(int64_t total_bytes, int64_t chunk_bytes, int64_t max_chunks);

// XXH3-128 of the manifest's chunk hashes, in order.
std::string WholeHash(const v1::Manifest& manifest);

// Checks a manifest from the network before anything is fetched for it: version >= 0,
// format "safetensors", 0 < total_bytes <= max_total_bytes, chunk_bytes > 0, chunks that
// cover [0, total_bytes) in order with the manifest's chunk size (the last may be shorter),
// 16-byte hashes and a whole hash that matches. InvalidArgument naming the field and value.
absl::Status ValidateManifest(const v1::Manifest& manifest, int64_t max_total_bytes);

// Chunk `index` of a whole byte string laid out by `manifest`.
std::string_view ChunkOf(std::string_view bytes, const v1::Manifest& manifest, int index);

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_MANIFEST_H_
