#include "lib/safetensors/safetensors_writer.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/safetensors/atomic_file.h"
#include "lib/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1rl::safetensors {
namespace {

constexpr size_t kHeaderAlignment = 8;

// Position in the reference writer's order: larger alignment first.
int WriteRank(DType dtype) {
  switch (dtype) {
    case DType::kI64:
      return 0;
    case DType::kF64:
      return 1;
    case DType::kF32:
      return 2;
    case DType::kI32:
      return 3;
    case DType::kBF16:
      return 4;
    case DType::kF16:
      return 5;
    case DType::kI16:
      return 6;
    case DType::kI8:
      return 7;
    case DType::kU8:
      return 8;
    case DType::kBool:
      return 9;
  }
  return 10;
}

}  // namespace

absl::Status ValidateTensorsForWrite(const std::vector<TensorView>& tensors) {
  std::set<std::string_view> names;
  for (const TensorView& t : tensors) {
    const std::string where = absl::StrCat("tensor \"", absl::Utf8SafeCHexEscape(t.name), "\"");
    if (t.name.empty() || t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat(where, ": reserved or empty name"));
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate name"));
    }
    uint64_t elements = 1;
    bool overflow = false;
    for (int64_t d : t.shape) {
      if (d < 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": negative dimension ", d));
      }
      overflow |= __builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements);
    }
    uint64_t expected = 0;
    overflow |= __builtin_mul_overflow(elements, DTypeSize(t.dtype), &expected);
    if (overflow || expected != t.nbytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": nbytes ", t.nbytes,
                                                     " does not match its shape and dtype ",
                                                     std::string(DTypeName(t.dtype))));
    }
    if (t.data == nullptr && t.nbytes > 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": data is null"));
    }
  }
  return absl::OkStatus();
}

namespace {

// The tensors in the order they are laid out in the data buffer.
std::vector<const TensorView*> WriteOrder(const std::vector<TensorView>& tensors) {
  std::vector<const TensorView*> order;
  order.reserve(tensors.size());
  for (const TensorView& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    const int ra = WriteRank(a->dtype), rb = WriteRank(b->dtype);
    return ra != rb ? ra < rb : a->name < b->name;
  });
  return order;
}

// The 8-byte length field followed by the padded header.
absl::StatusOr<std::string> BuildPrefix(const std::vector<const TensorView*>& order,
                                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  std::map<std::string, std::string> all_metadata = metadata;
  all_metadata.emplace("format", "pt");
  for (const auto& [key, value] : all_metadata) meta[key] = value;
  header["__metadata__"] = std::move(meta);
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(DTypeName(t->dtype));
    entry["shape"] = t->shape;
    entry["data_offsets"] = {offset, offset + t->nbytes};
    header[t->name] = std::move(entry);
    offset += t->nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("a tensor name or metadata entry is not valid UTF-8: ", e.what()));
  }
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  std::string prefix(8, '\0');
  const uint64_t n = text.size();
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return prefix + text;
}

// A validated write: the layout order and the length field + header.
struct Prepared {
  std::vector<const TensorView*> order;
  std::string prefix;
};

absl::StatusOr<Prepared> Prepare(const std::vector<TensorView>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  RETURN_IF_ERROR(ValidateTensorsForWrite(tensors));
  Prepared prepared;
  prepared.order = WriteOrder(tensors);
  ASSIGN_OR_RETURN(prepared.prefix, BuildPrefix(prepared.order, metadata));
  return prepared;
}

absl::Status WritePrepared(const Prepared& prepared, const WriteFn& write) {
  RETURN_IF_ERROR(write(prepared.prefix));
  for (const TensorView* t : prepared.order) {
    RETURN_IF_ERROR(write(std::string_view(reinterpret_cast<const char*>(t->data), t->nbytes)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<Prepared> prepared = Prepare(tensors, metadata);
  if (!prepared.ok()) {
    return absl::Status(prepared.status().code(),
                        absl::StrCat(path, ": ", prepared.status().message()));
  }
  return WriteFileAtomically(path,
                             [&](const WriteFn& write) { return WritePrepared(*prepared, write); });
}

absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<TensorView>& tensors, const std::map<std::string, std::string>& metadata) {
  ASSIGN_OR_RETURN(Prepared prepared, Prepare(tensors, metadata));
  std::string out;
  RETURN_IF_ERROR(WritePrepared(prepared, [&out](std::string_view bytes) {
    out.append(bytes);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace r1rl::safetensors
