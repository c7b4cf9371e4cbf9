// Conversions between 32-bit floats and the 16-bit float formats of checkpoints:
// IEEE binary16 (F16) and bfloat16 (BF16).
//
// Widening (F16/BF16 -> F32) is exact. Narrowing (F32 -> F16/BF16) rounds to nearest,
// ties to even; values past the largest finite half round to +-Inf, Inf stays Inf,
// NaN stays NaN (quieted, sign and leading payload bits kept), and F16 subnormals
// are produced and read correctly.
//
// Thread-safety: pure functions.
#ifndef R1RL_LIB_SAFETENSORS_DTYPE_CONVERT_H_
#define R1RL_LIB_SAFETENSORS_DTYPE_CONVERT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "lib/safetensors/safetensors.h"

namespace r1rl::safetensors {

float HalfToFloat(uint16_t bits);
uint16_t FloatToHalf(float value);
float BFloat16ToFloat(uint16_t bits);
uint16_t FloatToBFloat16(float value);

// Element-wise over spans. InvalidArgument when the sizes differ.
[[nodiscard]] absl::Status HalfToFloat(absl::Span<const uint16_t> in, absl::Span<float> out);
[[nodiscard]] absl::Status FloatToHalf(absl::Span<const float> in, absl::Span<uint16_t> out);
[[nodiscard]] absl::Status BFloat16ToFloat(absl::Span<const uint16_t> in, absl::Span<float> out);
[[nodiscard]] absl::Status FloatToBFloat16(absl::Span<const float> in, absl::Span<uint16_t> out);

// Widens a tensor of F32, F16 or BF16 into `out`, which must hold exactly its number
// of elements. Reads through memcpy, so `view.data` need not be aligned.
// InvalidArgument (naming the tensor) for other dtypes or a size mismatch.
[[nodiscard]] absl::Status ToFloat32(const TensorView& view, absl::Span<float> out);

// Narrows (or copies) `in` into `out` as `dtype` (F32, F16 or BF16); `out` must hold
// in.size() * DTypeSize(dtype) bytes and need not be aligned. InvalidArgument for
// other dtypes or a size mismatch.
[[nodiscard]] absl::Status FromFloat32(absl::Span<const float> in, DType dtype,
                                       absl::Span<uint8_t> out);

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_DTYPE_CONVERT_H_
