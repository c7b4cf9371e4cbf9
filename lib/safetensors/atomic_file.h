// Writing a file so that readers see either the old contents or the new, never a mix.
//
// The bytes go to `path + ".tmp"`, are fsync'ed, and the temporary is renamed over
// `path`; the directory is then fsync'ed so that the rename survives a crash. On any
// failure the temporary is removed and `path` is left as it was.
//
// Thread-safety: concurrent writers of the same path race on the temporary; callers
// serialize writes to one path.
#ifndef R1RL_LIB_SAFETENSORS_ATOMIC_FILE_H_
#define R1RL_LIB_SAFETENSORS_ATOMIC_FILE_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace r1rl::safetensors {

// Appends bytes to the file being written; returns the first write error.
using WriteFn = std::function<absl::Status(std::string_view bytes)>;

// Calls `fill` with a WriteFn that appends to the temporary file, then publishes the
// file atomically as described above. Errors name `path` and the failing call.
[[nodiscard]] absl::Status WriteFileAtomically(
    const std::string& path, const std::function<absl::Status(const WriteFn&)>& fill);

// Convenience: writes `contents` atomically.
[[nodiscard]] absl::Status WriteStringAtomically(const std::string& path,
                                                 std::string_view contents);

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_ATOMIC_FILE_H_
