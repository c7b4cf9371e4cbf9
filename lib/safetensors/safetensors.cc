#include "lib/safetensors/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1rl::safetensors {
namespace {

using nlohmann::json;

constexpr size_t kLengthFieldBytes = 8;
// Longest piece of an offending JSON value quoted in an error message.
constexpr size_t kMaxQuotedValueChars = 64;

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  return kDTypes[0];  // unreachable: every enumerator is listed
}

std::string Quote(std::string_view s) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

// A JSON value for an error message, shortened.
std::string Describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxQuotedValueChars) text = text.substr(0, kMaxQuotedValueChars) + "...";
  return text;
}

// Parses JSON text, rejecting duplicate keys in any object (nlohmann would silently
// keep one of them, and two readers could then disagree about the file).
absl::StatusOr<json> ParseJsonNoDuplicates(std::string_view text, const std::string& source) {
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys_per_object.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_per_object.empty()) keys_per_object.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_per_object.empty() && parsed.is_string() &&
            !keys_per_object.back().insert(parsed.get_ref<const std::string&>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get_ref<const std::string&>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json result;
  try {
    result = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": header is not valid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": header has duplicate key ", Quote(duplicate)));
  }
  return result;
}

absl::Status ParseMetadata(const json& value, const std::string& source,
                           std::map<std::string, std::string>* metadata) {
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": \"__metadata__\" must be an object of strings, got ", Describe(value)));
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": \"__metadata__\" key ", Quote(key),
                                                     " must be a string, got ", Describe(item)));
    }
    (*metadata)[key] = item.get<std::string>();
  }
  return absl::OkStatus();
}

// A non-negative JSON integer that fits in int64, or nullopt.
std::optional<uint64_t> NonNegativeInt(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  const uint64_t v = value.get<uint64_t>();
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return v;
}

// Parses one tensor entry; checks everything that does not involve other tensors.
absl::StatusOr<HeaderEntry> ParseEntry(const std::string& name, const json& value,
                                       uint64_t data_size, const std::string& source) {
  const std::string where = absl::StrCat(source, ": tensor ", Quote(name));
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": entry must be an object, got ", Describe(value)));
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": missing \"", field, "\""));
    }
  }
  HeaderEntry entry;
  entry.name = name;

  const json& dtype = value["dtype"];
  std::optional<DType> parsed_dtype;
  if (dtype.is_string()) parsed_dtype = DTypeFromName(dtype.get_ref<const std::string&>());
  if (!parsed_dtype) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": unsupported dtype ", Describe(dtype)));
  }
  entry.dtype = *parsed_dtype;

  const json& shape = value["shape"];
  if (!shape.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape must be an array, got ", Describe(shape)));
  }
  uint64_t elements = 1;
  bool overflow = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    std::optional<uint64_t> dim = NonNegativeInt(shape[i]);
    if (!dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": shape[", i, "] must be a non-negative integer, got ", Describe(shape[i])));
    }
    entry.shape.push_back(static_cast<int64_t>(*dim));
    overflow |= __builtin_mul_overflow(elements, *dim, &elements);
  }
  uint64_t expected_bytes = 0;
  overflow |= __builtin_mul_overflow(elements, DTypeSize(entry.dtype), &expected_bytes);

  const json& offsets = value["data_offsets"];
  std::optional<uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = NonNegativeInt(offsets[0]);
    end = NonNegativeInt(offsets[1]);
  }
  if (!begin || !end) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": data_offsets must be [begin, end] of non-negative integers, got ",
                     Describe(offsets)));
  }
  entry.begin = *begin;
  entry.end = *end;
  const std::string offsets_text = absl::StrCat("data_offsets [", *begin, ", ", *end, "]");
  if (*begin > *end) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", offsets_text, " begin is after end"));
  }
  if (*end > data_size) {
    return absl::DataLossError(absl::StrCat(where, ": ", offsets_text, " end ", *end,
                                            " is past the data buffer of ", data_size, " bytes"));
  }
  if (overflow || *end - *begin != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", offsets_text, " hold ", *end - *begin, " bytes but shape [",
        absl::StrJoin(entry.shape, ", "), "] of ", std::string(DTypeName(entry.dtype)), " needs ",
        overflow ? std::string("more than 2^64") : absl::StrCat(expected_bytes)));
  }
  return entry;
}

// The tensors, in offset order, must tile [0, data_size) exactly.
absl::Status CheckCoverage(const std::vector<HeaderEntry>& tensors, uint64_t data_size,
                           const std::string& source) {
  std::vector<const HeaderEntry*> by_offset;
  by_offset.reserve(tensors.size());
  for (const HeaderEntry& entry : tensors) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](const HeaderEntry* a, const HeaderEntry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  uint64_t covered = 0;
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry* entry : by_offset) {
    if (entry->begin < covered) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", Quote(entry->name), ": data_offsets [", entry->begin, ", ",
          entry->end, "] overlap tensor ", Quote(previous->name), " which ends at ", covered));
    }
    if (entry->begin > covered) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor ", Quote(entry->name), ": data_offsets [", entry->begin,
                       ", ", entry->end, "] leave a hole: bytes [", covered, ", ", entry->begin,
                       ") of the data buffer belong to no tensor"));
    }
    covered = entry->end;
    previous = entry;
  }
  if (covered != data_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the tensors cover ", covered, " bytes but the data buffer has ", data_size,
        " bytes: bytes [", covered, ", ", data_size, ") belong to no tensor"));
  }
  return absl::OkStatus();
}

}  // namespace

size_t DTypeSize(DType dtype) { return Info(dtype).size; }

std::string_view DTypeName(DType dtype) { return Info(dtype).name; }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

int64_t TensorView::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<ParsedHeader> ParseHeader(std::string_view header_json, uint64_t data_size,
                                         const std::string& source) {
  ASSIGN_OR_RETURN(json header, ParseJsonNoDuplicates(header_json, source));
  if (!header.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": header must be a JSON object, got ", header.type_name()));
  }
  ParsedHeader parsed;
  // json objects iterate in key order, so the entries come out sorted by name.
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      RETURN_IF_ERROR(ParseMetadata(value, source, &parsed.metadata));
      continue;
    }
    ASSIGN_OR_RETURN(HeaderEntry entry, ParseEntry(key, value, data_size, source));
    parsed.tensors.push_back(std::move(entry));
  }
  RETURN_IF_ERROR(CheckCoverage(parsed.tensors, data_size, source));
  return parsed;
}

// ---------------------------------------------------------------------------
// SafetensorsFile

class SafetensorsFile::Mapping {
 public:
  Mapping(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~Mapping() { munmap(addr_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_;
  size_t size_;
};

SafetensorsFile::~SafetensorsFile() = default;

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat(path, ": cannot open: ", std::strerror(err)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kLengthFieldBytes) {
    ::close(fd);
    return absl::DataLossError(
        absl::StrCat(path, ": file is ", size, " bytes, shorter than the 8-byte header length"));
  }
  void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (addr == MAP_FAILED) {
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat(path, ": mmap failed: ", std::strerror(err)));
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_ = path;
  file->mapping_ = std::make_unique<Mapping>(addr, size);
  RETURN_IF_ERROR(file->Init(file->mapping_->data(), size));
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBuffer(
    std::string bytes, std::string source_name) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_ = std::move(source_name);
  file->bytes_ = std::move(bytes);
  RETURN_IF_ERROR(
      file->Init(reinterpret_cast<const uint8_t*>(file->bytes_.data()), file->bytes_.size()));
  return file;
}

absl::Status SafetensorsFile::Init(const uint8_t* base, uint64_t size) {
  if (size < kLengthFieldBytes) {
    return absl::DataLossError(
        absl::StrCat(source_, ": file is ", size, " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (size_t i = 0; i < kLengthFieldBytes; ++i) {
    header_size |= static_cast<uint64_t>(base[i]) << (8 * i);
  }
  if (header_size > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": header length ", header_size,
                                                   " exceeds the limit of ", kMaxHeaderBytes,
                                                   " bytes"));
  }
  if (header_size > size - kLengthFieldBytes) {
    return absl::DataLossError(
        absl::StrCat(source_, ": header length ", header_size, " is past the end of the file (",
                     size - kLengthFieldBytes, " bytes follow the length field)"));
  }
  const uint8_t* data = base + kLengthFieldBytes + header_size;
  const uint64_t data_size = size - kLengthFieldBytes - header_size;
  std::string_view header_text(reinterpret_cast<const char*>(base + kLengthFieldBytes),
                               header_size);
  ASSIGN_OR_RETURN(ParsedHeader header, ParseHeader(header_text, data_size, source_));
  tensors_.reserve(header.tensors.size());
  for (HeaderEntry& entry : header.tensors) {
    tensors_.push_back(TensorView{std::move(entry.name), entry.dtype, std::move(entry.shape),
                                  data + entry.begin, entry.end - entry.begin});
  }
  metadata_ = std::move(header.metadata);
  return absl::OkStatus();
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

absl::StatusOr<const TensorView*> SafetensorsFile::Get(std::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) {
    return absl::NotFoundError(absl::StrCat(source_, ": no tensor ", Quote(name)));
  }
  return view;
}

}  // namespace r1rl::safetensors
