// Weights in the dtype the workers sample with: a safetensors byte string with every F32
// tensor narrowed to BF16 (or F16), round to nearest even, other tensors as they are. The
// learner trains in float32; workers that sample in bfloat16 take half the bytes
// (broadcast.transfer_dtype), and after a small learning-rate step most bfloat16 values do
// not move, so more chunks are skipped as unchanged (docs/benchmarks.md, W1).
//
//   ASSIGN_OR_RETURN(std::string half, CastFloat32Tensors(bytes, safetensors::DType::kBF16));
#ifndef R1RL_LIB_BROADCAST_TRANSFER_DTYPE_H_
#define R1RL_LIB_BROADCAST_TRANSFER_DTYPE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/safetensors/safetensors.h"

namespace r1rl::broadcast {

// InvalidArgument when `bytes` is not a safetensors file or `to` is not F32, BF16 or F16
// (F32: the bytes unchanged).
absl::StatusOr<std::string> CastFloat32Tensors(std::string_view bytes, safetensors::DType to);

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_TRANSFER_DTYPE_H_
