#include "lib/safetensors/dtype_convert.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace r1rl::safetensors {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32Infinity = 0x7f800000u;
// 65536.0f: the first magnitude whose half exponent field would be 31 (Inf/NaN).
constexpr uint32_t kF32HalfOverflow = (127u + 16u) << 23;
// 2^-14: the smallest normal half.
constexpr uint32_t kF32HalfMinNormal = 113u << 23;
// 0.5f: adding it aligns a tiny value's bits to half subnormal positions, so the
// FPU's own round-to-nearest-even does the rounding.
constexpr uint32_t kF32SubnormalMagic = ((127u - 15u) + (23u - 10u) + 1u) << 23;

absl::Status CheckSizes(size_t in, size_t out) {
  if (in == out) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("conversion of ", in, " elements into a span of ", out));
}

template <typename In, typename Out, typename Fn>
absl::Status Map(absl::Span<const In> in, absl::Span<Out> out, Fn fn) {
  if (absl::Status s = CheckSizes(in.size(), out.size()); !s.ok()) return s;
  for (size_t i = 0; i < in.size(); ++i) out[i] = fn(in[i]);
  return absl::OkStatus();
}

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return FromBits(sign | Bits(magnitude));
  }
  if (exponent == 0x1f) return FromBits(sign | kF32Infinity | (mantissa << 13));
  return FromBits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float value) {
  uint32_t u = Bits(value);
  const uint32_t sign = u & kF32SignMask;
  u ^= sign;
  uint32_t h;
  if (u >= kF32HalfOverflow) {
    // Inf stays Inf; NaN stays a quiet NaN with its leading payload bits.
    h = u > kF32Infinity ? (0x7e00u | ((u >> 13) & 0x3ffu)) : 0x7c00u;
  } else if (u < kF32HalfMinNormal) {
    const float shifted = FromBits(u) + FromBits(kF32SubnormalMagic);
    h = Bits(shifted) - kF32SubnormalMagic;
  } else {
    const uint32_t mantissa_odd = (u >> 13) & 1u;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;  // rebias; round half down...
    u += mantissa_odd;                                      // ...or up when odd: to even
    h = u >> 13;  // a carry out of the mantissa correctly reaches Inf at 65520
  }
  return static_cast<uint16_t>(h | (sign >> 16));
}

float BFloat16ToFloat(uint16_t bits) { return FromBits(static_cast<uint32_t>(bits) << 16); }

uint16_t FloatToBFloat16(float value) {
  const uint32_t u = Bits(value);
  if ((u & ~kF32SignMask) > kF32Infinity) {
    return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN, never rounds to Inf
  }
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

absl::Status HalfToFloat(absl::Span<const uint16_t> in, absl::Span<float> out) {
  return Map(in, out, [](uint16_t h) { return HalfToFloat(h); });
}
absl::Status FloatToHalf(absl::Span<const float> in, absl::Span<uint16_t> out) {
  return Map(in, out, [](float f) { return FloatToHalf(f); });
}
absl::Status BFloat16ToFloat(absl::Span<const uint16_t> in, absl::Span<float> out) {
  return Map(in, out, [](uint16_t h) { return BFloat16ToFloat(h); });
}
absl::Status FloatToBFloat16(absl::Span<const float> in, absl::Span<uint16_t> out) {
  return Map(in, out, [](float f) { return FloatToBFloat16(f); });
}

absl::Status ToFloat32(const TensorView& view, absl::Span<float> out) {
  const size_t element = DTypeSize(view.dtype);
  if (view.nbytes != out.size() * element) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", view.name, "\": ", view.nbytes,
                                                   " bytes of ", std::string(DTypeName(view.dtype)),
                                                   " do not fill ", out.size(), " floats"));
  }
  switch (view.dtype) {
    case DType::kF32:
      if (view.nbytes > 0) std::memcpy(out.data(), view.data, view.nbytes);
      return absl::OkStatus();
    case DType::kF16:
    case DType::kBF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, view.data + 2 * i, sizeof(h));
        out[i] = view.dtype == DType::kF16 ? HalfToFloat(h) : BFloat16ToFloat(h);
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", view.name, "\": dtype ",
                                                     std::string(DTypeName(view.dtype)),
                                                     " is not a floating-point type"));
  }
}

absl::Status FromFloat32(absl::Span<const float> in, DType dtype, absl::Span<uint8_t> out) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot narrow floats to ", std::string(DTypeName(dtype))));
  }
  if (absl::Status s = CheckSizes(in.size() * DTypeSize(dtype), out.size()); !s.ok()) return s;
  if (dtype == DType::kF32) {
    if (!in.empty()) std::memcpy(out.data(), in.data(), out.size());
    return absl::OkStatus();
  }
  for (size_t i = 0; i < in.size(); ++i) {
    const uint16_t h = dtype == DType::kF16 ? FloatToHalf(in[i]) : FloatToBFloat16(in[i]);
    std::memcpy(out.data() + 2 * i, &h, sizeof(h));
  }
  return absl::OkStatus();
}

}  // namespace r1rl::safetensors
