#include "lib/safetensors/dtype_convert.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace r1rl::safetensors {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool IsHalfNaN(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

// True when `h` is the correctly rounded (nearest, ties to even) half of `f`, judged
// in double against the neighbouring halves.
template <typename Widen>
bool IsNearestEven(float f, uint16_t h, Widen widen, uint16_t max_finite) {
  const double x = f;
  const uint16_t magnitude = h & 0x7fff;
  if (magnitude > max_finite) {
    // Inf: only correct when x is at least halfway past the largest finite value.
    const double largest = widen(max_finite);
    const double next = widen(max_finite - 1);
    return std::fabs(x) >= largest + (largest - next) / 2;
  }
  const double got = widen(h);
  for (int delta : {-1, 1}) {
    const int neighbour = magnitude + delta;
    if (neighbour < 0 || neighbour > max_finite) continue;
    const double other = widen(static_cast<uint16_t>((h & 0x8000) | neighbour));
    const double d_got = std::fabs(got - x), d_other = std::fabs(other - x);
    if (d_other < d_got) return false;
    if (d_other == d_got && (h & 1) != 0) return false;  // tie must go to even
  }
  return true;
}

TEST(HalfToFloat, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (IsHalfNaN(static_cast<uint16_t>(h))) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(IsHalfNaN(FloatToHalf(f))) << h;
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << h;
  }
}

TEST(HalfToFloat, KnownValues) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(Bits(HalfToFloat(0x8000)), 0x80000000u);  // -0
}

TEST(FloatToHalf, RoundsToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even is down
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, even is up
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // halfway to 65536 rounds to Inf
  EXPECT_EQ(FloatToHalf(-1e10f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0: even
  EXPECT_EQ(FloatToHalf(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -30)), 0x0000);
}

TEST(FloatToHalf, InfAndNaNArePreserved) {
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(IsHalfNaN(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(IsHalfNaN(FloatToHalf(FromBits(0x7f800001))));  // signalling, low payload
  EXPECT_TRUE(IsHalfNaN(FloatToHalf(FromBits(0xff800001))));
}

TEST(FloatToHalf, RandomFloatsRoundToNearestEven) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    // Concentrate on the half range: exponents around [-30, 17].
    uint32_t u = bits(rng);
    u = (u & 0x807fffff) | ((97u + (u >> 23) % 48u) << 23);
    const float f = FromBits(u);
    const uint16_t h = FloatToHalf(f);
    ASSERT_TRUE(IsNearestEven(
        f, h, [](uint16_t x) { return static_cast<double>(HalfToFloat(x)); }, 0x7bff))
        << f << " -> " << h;
  }
}

TEST(BFloat16, EveryBFloat16RoundTripsThroughFloat) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const float f = BFloat16ToFloat(static_cast<uint16_t>(b));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(f)))) << b;
      continue;
    }
    EXPECT_EQ(FloatToBFloat16(f), b) << b;
  }
}

TEST(BFloat16, RoundsToNearestEvenAndKeepsNaN) {
  EXPECT_EQ(FloatToBFloat16(FromBits(0x3f808000)), 0x3f80);  // tie, even is down
  EXPECT_EQ(FloatToBFloat16(FromBits(0x3f818000)), 0x3f82);  // tie, even is up
  EXPECT_EQ(FloatToBFloat16(FromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(FloatToBFloat16(FromBits(0x7f7fffff)), 0x7f80);  // max float rounds to Inf
  EXPECT_EQ(FloatToBFloat16(-std::numeric_limits<float>::infinity()), 0xff80);
  const uint16_t nan = FloatToBFloat16(FromBits(0x7fffffff));
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(nan)));
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(FromBits(0x7f800001)))));
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const float f = FromBits(bits(rng) & 0xbf7fffffu);  // finite, away from overflow
    const uint16_t b = FloatToBFloat16(f);
    ASSERT_TRUE(IsNearestEven(
        f, b, [](uint16_t x) { return static_cast<double>(BFloat16ToFloat(x)); }, 0x7f7f))
        << f;
  }
}

TEST(SpanConversions, ConvertElementwiseAndCheckSizes) {
  const std::vector<float> in = {1.0f, -2.5f, 0.0f};
  std::vector<uint16_t> half(3), bf(3);
  std::vector<float> back(3);
  ASSERT_TRUE(FloatToHalf(in, absl::MakeSpan(half)).ok());
  ASSERT_TRUE(HalfToFloat(half, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back, in);
  ASSERT_TRUE(FloatToBFloat16(in, absl::MakeSpan(bf)).ok());
  ASSERT_TRUE(BFloat16ToFloat(bf, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back, in);
  std::vector<float> short_out(2);
  EXPECT_EQ(HalfToFloat(half, absl::MakeSpan(short_out)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TensorConversions, WidenAndNarrowUnalignedTensors) {
  const std::vector<float> values = {0.5f, -3.0f, 1024.0f};
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<uint8_t> storage(1 + values.size() * DTypeSize(dtype));
    absl::Span<uint8_t> bytes = absl::MakeSpan(storage).subspan(1);  // misaligned on purpose
    ASSERT_TRUE(FromFloat32(values, dtype, bytes).ok());
    TensorView view{"t", dtype, {3}, bytes.data(), bytes.size()};
    std::vector<float> out(3);
    ASSERT_TRUE(ToFloat32(view, absl::MakeSpan(out)).ok());
    EXPECT_EQ(out, values) << DTypeName(dtype);
  }
  std::vector<uint8_t> ints(8);
  TensorView int_view{"ids", DType::kI64, {1}, ints.data(), ints.size()};
  std::vector<float> out(1);
  EXPECT_EQ(ToFloat32(int_view, absl::MakeSpan(out)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromFloat32(out, DType::kI8, absl::MakeSpan(ints)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1rl::safetensors
