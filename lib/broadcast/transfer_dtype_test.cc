#include "lib/broadcast/transfer_dtype.h"

#include <gtest/gtest.h>

#include <cstring>

#include "lib/broadcast/test_weights.h"
#include "lib/safetensors/dtype_convert.h"

namespace r1rl::broadcast {
namespace {

TEST(TransferDtype, Float32TensorsBecomeBfloat16RoundedToNearest) {
  const std::string f32 = TestWeights(3, 1000, 4);
  auto bf16 = CastFloat32Tensors(f32, safetensors::DType::kBF16);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  auto a = safetensors::SafetensorsFile::FromBuffer(f32, "f32");
  auto b = safetensors::SafetensorsFile::FromBuffer(*bf16, "bf16");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ((*b)->tensors().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& ta = (*a)->tensors()[i];
    const auto& tb = (*b)->tensors()[i];
    EXPECT_EQ(ta.name, tb.name);
    EXPECT_EQ(ta.shape, tb.shape);
    EXPECT_EQ(tb.dtype, safetensors::DType::kBF16);
    for (int k = 0; k < 1000; k += 97) {
      float x;
      uint16_t h;
      std::memcpy(&x, ta.data + 4 * k, 4);
      std::memcpy(&h, tb.data + 2 * k, 2);
      EXPECT_EQ(h, safetensors::FloatToBFloat16(x));
    }
  }
  EXPECT_LT(bf16->size(), f32.size() * 6 / 10);
  auto same = CastFloat32Tensors(f32, safetensors::DType::kF32);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, f32);
  EXPECT_EQ(CastFloat32Tensors("not safetensors", safetensors::DType::kBF16).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CastFloat32Tensors(f32, safetensors::DType::kI64).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1rl::broadcast
