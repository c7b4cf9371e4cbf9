#include "lib/broadcast/transfer_dtype.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/safetensors/dtype_convert.h"
#include "lib/safetensors/safetensors_writer.h"

namespace r1rl::broadcast {

absl::StatusOr<std::string> CastFloat32Tensors(std::string_view bytes, safetensors::DType to) {
  using safetensors::DType;
  if (to == DType::kF32) return std::string(bytes);
  if (to != DType::kBF16 && to != DType::kF16)
    return absl::InvalidArgumentError(absl::StrCat("transfer dtype ",
                                                   std::string(safetensors::DTypeName(to)),
                                                   ": F32, BF16 or F16 was expected"));
  auto file = safetensors::SafetensorsFile::FromBuffer(std::string(bytes), "policy weights");
  if (!file.ok()) return file.status();
  std::vector<std::vector<uint8_t>> narrowed;
  narrowed.reserve((*file)->tensors().size());
  std::vector<safetensors::TensorView> views;
  std::vector<float> wide;
  for (const safetensors::TensorView& t : (*file)->tensors()) {
    safetensors::TensorView v = t;
    if (t.dtype == DType::kF32) {
      wide.resize(static_cast<size_t>(t.NumElements()));
      if (auto st = safetensors::ToFloat32(t, absl::MakeSpan(wide)); !st.ok()) return st;
      narrowed.emplace_back(wide.size() * 2);
      if (auto st = safetensors::FromFloat32(wide, to, absl::MakeSpan(narrowed.back())); !st.ok())
        return st;
      v.dtype = to;
      v.data = narrowed.back().data();
      v.nbytes = narrowed.back().size();
    }
    views.push_back(v);
  }
  return safetensors::SerializeSafetensors(views, (*file)->metadata());
}

}  // namespace r1rl::broadcast
