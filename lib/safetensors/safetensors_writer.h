// Writing the safetensors format.
//
// The layout matches the reference (Python/Rust `safetensors`) writer byte for byte:
// compact JSON header with "__metadata__" first, tensors ordered by descending dtype
// alignment (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL) then by name, contiguous
// data offsets, and the header padded with spaces to a multiple of 8 bytes so that
// the data buffer is 8-byte aligned.
//
// Thread-safety: free functions; the tensors' bytes must not change while writing.
#ifndef R1RL_LIB_SAFETENSORS_SAFETENSORS_WRITER_H_
#define R1RL_LIB_SAFETENSORS_SAFETENSORS_WRITER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/safetensors/safetensors.h"

namespace r1rl::safetensors {

// Writes `tensors` to `path` atomically (to `path + ".tmp"`, fsync, rename; see
// atomic_file.h). `metadata` becomes "__metadata__"; "format": "pt" is added unless
// `metadata` has a "format" key. InvalidArgument, writing nothing, when two tensors
// share a name, a name is empty, "__metadata__" or not UTF-8, a dimension is
// negative, or a tensor's nbytes differs from its elements times element size.
[[nodiscard]] absl::Status WriteSafetensors(
    const std::string& path, const std::vector<TensorView>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// The checks WriteSafetensors makes on `tensors` (names, shapes, sizes), alone.
[[nodiscard]] absl::Status ValidateTensorsForWrite(const std::vector<TensorView>& tensors);

// The bytes WriteSafetensors would write, in memory (tests, small files).
[[nodiscard]] absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<TensorView>& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_SAFETENSORS_WRITER_H_
