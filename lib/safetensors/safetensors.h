// Reading the safetensors format (https://github.com/huggingface/safetensors).
//
// A file is: an 8-byte little-endian header length N, N bytes of JSON header, then
// the data buffer. The header maps each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// with offsets relative to the start of the data buffer, plus an optional
// "__metadata__" object of string to string.
//
// The header is untrusted input and is validated in full before any view is handed
// out (see ParseHeader); a file that opens is safe to read through every view. Errors
// name the source and the field or tensor:
//   model.safetensors: tensor "model.norm.weight": data_offsets [0, 100] end 100 is
//   past the data buffer of 64 bytes
//
// Status codes: NotFound (file missing), DataLoss (the bytes are cut short: file
// shorter than its header or its tensors), InvalidArgument (the header is malformed).
//
// Thread-safety: SafetensorsFile is immutable after Open and may be read from any
// number of threads.
#ifndef R1RL_LIB_SAFETENSORS_SAFETENSORS_H_
#define R1RL_LIB_SAFETENSORS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::safetensors {

// The element types this project reads and writes. The safetensors format knows a
// few more (F8_E4M3, U16, U32, U64, ...); headers naming those are rejected.
enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// Bytes per element: 4 for kF32, 1 for kBool, ...
size_t DTypeSize(DType dtype);
// The name used in headers: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8",
// "U8", "BOOL".
std::string_view DTypeName(DType dtype);
// The inverse of DTypeName; nullopt for a name this project does not support.
std::optional<DType> DTypeFromName(std::string_view name);

// Largest header the reader accepts, as the reference implementation (100 MB).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// One tensor: its description and its bytes (row-major, little-endian).
// `data` is not owned: for views from a SafetensorsFile it points into the file's
// mapping and lives as long as the file object. It carries no alignment guarantee
// beyond what the file gives (8 bytes for files from padded writers); read
// multi-byte elements with memcpy or check the alignment first.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  // Product of the shape (1 for a scalar, 0 when any dimension is 0).
  int64_t NumElements() const;
};

// One tensor entry of a parsed header: offsets are relative to the data buffer.
struct HeaderEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A validated header.
struct ParsedHeader {
  std::vector<HeaderEntry> tensors;             // sorted by name
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
};

// Parses and validates the JSON header of a file whose data buffer has `data_size`
// bytes. `source` names the file in error messages. Checks: the text is a JSON
// object without duplicate keys; "__metadata__", when present, is an object of
// strings; every other key is a tensor with a known "dtype", a "shape" of
// non-negative integers and "data_offsets" [begin, end] with begin <= end <=
// data_size and end - begin == elements * element size; and the tensors, sorted by
// offset, cover the data buffer exactly (no overlap, no hole, no trailing bytes).
[[nodiscard]] absl::StatusOr<ParsedHeader> ParseHeader(std::string_view header_json,
                                                       uint64_t data_size,
                                                       const std::string& source);

// A validated safetensors file, memory-mapped read-only or held in memory.
class SafetensorsFile {
 public:
  // Maps `path` read-only (MAP_PRIVATE) and validates it. The mapping is released
  // when the returned object is destroyed. NotFound when the file does not exist.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);

  // Validates a whole file held in `bytes` (tests, fuzzing, files read elsewhere).
  // `source_name` names it in error messages.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBuffer(
      std::string bytes, std::string source_name);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // Every tensor, sorted by name. Views stay valid as long as this object.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // The tensor named `name`, or nullptr when the file has none.
  const TensorView* Find(std::string_view name) const;
  // Like Find, but NotFound (naming the file and the tensor) when absent.
  [[nodiscard]] absl::StatusOr<const TensorView*> Get(std::string_view name) const;
  // The "__metadata__" object; empty when the header has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The path or source name given at creation.
  const std::string& source() const { return source_; }

 private:
  class Mapping;  // an mmap'ed region, unmapped on destruction

  SafetensorsFile() = default;
  // Validates the whole file at base[0, size) and fills tensors_ and metadata_.
  absl::Status Init(const uint8_t* base, uint64_t size);

  std::string source_;
  std::unique_ptr<Mapping> mapping_;  // set by Open
  std::string bytes_;                 // set by FromBuffer
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_SAFETENSORS_H_
