#include "lib/safetensors/safetensors.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/safetensors/safetensors_writer.h"
#include "lib/safetensors/scoped_temp_dir.h"

namespace r1rl::safetensors {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A tensor that owns its bytes; view() borrows them.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  TensorView view() const { return TensorView{name, dtype, shape, bytes.data(), bytes.size()}; }
};

template <typename T>
void Append(std::vector<uint8_t>* bytes, T value) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  bytes->insert(bytes->end(), raw, raw + sizeof(T));
}

// The formula of tools/fixtures/make_safetensors_fixtures.py.
OwnedTensor MakeFixtureTensor(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  OwnedTensor t{name, dtype, shape, {}};
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) {
    const double f = (static_cast<double>(i) - 3) * 0.375;
    switch (dtype) {
      case DType::kF32:
        Append(&t.bytes, static_cast<float>(f));
        break;
      case DType::kF64:
        Append(&t.bytes, f);
        break;
      case DType::kF16: {
        // f is a multiple of 1/8 in [-1.125, 1.5]: exact in half; encode by hand.
        float v = static_cast<float>(f);
        uint32_t u;
        std::memcpy(&u, &v, 4);
        uint16_t h = static_cast<uint16_t>((u >> 16) & 0x8000);
        if (v != 0)
          h |= static_cast<uint16_t>((((u >> 23) & 0xff) - 112) << 10 | ((u >> 13) & 0x3ff));
        Append(&t.bytes, h);
        break;
      }
      case DType::kBF16: {
        float v = static_cast<float>(f);
        uint32_t u;
        std::memcpy(&u, &v, 4);
        Append(&t.bytes, static_cast<uint16_t>(u >> 16));
        break;
      }
      case DType::kI64:
        Append(&t.bytes, static_cast<int64_t>(i * 37 - 50));
        break;
      case DType::kI32:
        Append(&t.bytes, static_cast<int32_t>(i * 37 - 50));
        break;
      case DType::kI16:
        Append(&t.bytes, static_cast<int16_t>(i * 37 - 50));
        break;
      case DType::kI8:
        Append(&t.bytes, static_cast<int8_t>((i * 37) % 256 - 128));
        break;
      case DType::kU8:
        Append(&t.bytes, static_cast<uint8_t>((i * 37) % 256));
        break;
      case DType::kBool:
        Append(&t.bytes, static_cast<uint8_t>(i % 3 == 0));
        break;
    }
  }
  return t;
}

std::vector<OwnedTensor> FixtureTensors() {
  return {
      MakeFixtureTensor("bf16", DType::kBF16, {4}),
      MakeFixtureTensor("bool", DType::kBool, {5}),
      MakeFixtureTensor("empty", DType::kF32, {0, 4}),
      MakeFixtureTensor("f16", DType::kF16, {3, 2}),
      MakeFixtureTensor("f32", DType::kF32, {2, 3}),
      MakeFixtureTensor("f64", DType::kF64, {2, 2}),
      MakeFixtureTensor("i16", DType::kI16, {5}),
      MakeFixtureTensor("i32", DType::kI32, {2, 2}),
      MakeFixtureTensor("i64", DType::kI64, {3}),
      MakeFixtureTensor("i8", DType::kI8, {7}),
      MakeFixtureTensor("scalar", DType::kF32, {}),
      MakeFixtureTensor("u8", DType::kU8, {2, 4}),
  };
}

std::vector<TensorView> Views(const std::vector<OwnedTensor>& tensors) {
  std::vector<TensorView> views;
  for (const OwnedTensor& t : tensors) views.push_back(t.view());
  return views;
}

std::string FixturePath() {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  return absl::StrCat(root != nullptr ? root : ".",
                      "/tests/fixtures/safetensors/all_dtypes.safetensors");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// An 8-byte length, `header`, then `data_size` zero bytes.
std::string MakeFile(const std::string& header, size_t data_size) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_size, '\0');
}

absl::Status OpenBytes(const std::string& bytes) {
  return SafetensorsFile::FromBuffer(bytes, "bad.safetensors").status();
}

void ExpectSameTensors(const SafetensorsFile& file, const std::vector<OwnedTensor>& want) {
  ASSERT_EQ(file.tensors().size(), want.size());
  for (const OwnedTensor& w : want) {
    const TensorView* got = file.Find(w.name);
    ASSERT_NE(got, nullptr) << w.name;
    EXPECT_EQ(got->dtype, w.dtype) << w.name;
    EXPECT_EQ(got->shape, w.shape) << w.name;
    ASSERT_EQ(got->nbytes, w.bytes.size()) << w.name;
    EXPECT_EQ(std::vector<uint8_t>(got->data, got->data + got->nbytes), w.bytes) << w.name;
  }
}

TEST(DType, NamesRoundTrip) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64, DType::kI64, DType::kI32,
                  DType::kI16, DType::kI8, DType::kU8, DType::kBool}) {
    EXPECT_EQ(DTypeFromName(DTypeName(d)), d);
  }
  EXPECT_EQ(DTypeName(DType::kBool), "BOOL");
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_FALSE(DTypeFromName("F8_E4M3").has_value());
}

TEST(SafetensorsFile, ReadsReferenceFixtureExactly) {
  auto file = SafetensorsFile::Open(FixturePath());
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensors(**file, FixtureTensors());
  EXPECT_EQ((*file)->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const TensorView* scalar = (*file)->Find("scalar");
  float value;
  std::memcpy(&value, scalar->data, 4);
  EXPECT_EQ(value, -1.125f);
  EXPECT_EQ(scalar->NumElements(), 1);
}

TEST(SafetensorsWriter, OutputIsByteIdenticalToReferenceWriter) {
  const std::vector<OwnedTensor> tensors = FixtureTensors();
  auto bytes = SerializeSafetensors(Views(tensors));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const std::string reference = ReadAll(FixturePath());
  ASSERT_FALSE(reference.empty());
  EXPECT_EQ(*bytes, reference);
}

TEST(SafetensorsWriter, RoundTripsEveryDTypeThroughMmap) {
  const std::vector<OwnedTensor> tensors = FixtureTensors();
  ScopedTempDir tmp;
  const std::string path = tmp.path() + "/roundtrip.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, Views(tensors), {{"step", "7"}}).ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensors(**file, tensors);
  EXPECT_EQ((*file)->metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"step", "7"}}));
  EXPECT_FALSE(std::ifstream(path + ".tmp").good()) << "the temporary must be renamed away";
}

TEST(SafetensorsWriter, KeepsGivenFormatAndPadsHeaderToEightBytes) {
  const std::vector<OwnedTensor> tensors = {MakeFixtureTensor("x", DType::kF32, {3})};
  auto bytes = SerializeSafetensors(Views(tensors), {{"format", "np"}});
  ASSERT_TRUE(bytes.ok());
  uint64_t n;
  std::memcpy(&n, bytes->data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes->size(), 8 + n + 12);
  auto file = SafetensorsFile::FromBuffer(*bytes, "mem");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "np");
}

TEST(SafetensorsWriter, EmptyTensorListIsAValidFile) {
  auto bytes = SerializeSafetensors({});
  ASSERT_TRUE(bytes.ok());
  auto file = SafetensorsFile::FromBuffer(*bytes, "mem");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->tensors().empty());
}

TEST(SafetensorsWriter, RejectsDuplicateNamesAndWritesNothing) {
  const OwnedTensor a = MakeFixtureTensor("w", DType::kF32, {2});
  ScopedTempDir tmp;
  const std::string path = tmp.path() + "/dup.safetensors";
  absl::Status s = WriteSafetensors(path, {a.view(), a.view()});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(path), HasSubstr("\"w\""), HasSubstr("duplicate")));
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST(SafetensorsWriter, RejectsNbytesMismatch) {
  OwnedTensor a = MakeFixtureTensor("w", DType::kF32, {2});
  TensorView v = a.view();
  v.nbytes = 7;
  absl::Status s = SerializeSafetensors({v}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"w\""), HasSubstr("nbytes 7")));
}

TEST(SafetensorsWriter, RejectsReservedName) {
  OwnedTensor a = MakeFixtureTensor("__metadata__", DType::kU8, {1});
  EXPECT_EQ(SerializeSafetensors({a.view()}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsFile, FindAndGet) {
  auto file = SafetensorsFile::Open(FixturePath());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Find("nope"), nullptr);
  auto missing = (*file)->Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), AllOf(HasSubstr("all_dtypes"), HasSubstr("\"nope\"")));
  auto found = (*file)->Get("u8");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->name, "u8");
}

// ---------------------------------------------------------------------------
// Bad input: every error is a Status naming the file and the field.

TEST(SafetensorsFileErrors, MissingFileIsNotFound) {
  absl::Status s = SafetensorsFile::Open("/nonexistent/model.safetensors").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/model.safetensors"));
}

TEST(SafetensorsFileErrors, FileShorterThanLengthField) {
  ScopedTempDir tmp;
  const std::string path = tmp.path() + "/short.safetensors";
  std::ofstream(path) << "abc";
  absl::Status s = SafetensorsFile::Open(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(path), HasSubstr("3 bytes")));
  EXPECT_EQ(OpenBytes("").code(), absl::StatusCode::kDataLoss);
}

TEST(SafetensorsFileErrors, HeaderLengthPastEndOfFile) {
  std::string bytes = MakeFile("{}", 0);
  bytes[0] = 50;
  absl::Status s = OpenBytes(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("header length 50"),
                                 HasSubstr("past the end")));
}

TEST(SafetensorsFileErrors, OversizedHeaderLength) {
  std::string bytes = MakeFile("{}", 0);
  bytes[7] = 1;  // 2^56 + 2
  absl::Status s = OpenBytes(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("exceeds the limit")));
}

TEST(SafetensorsFileErrors, OffsetsPastDataBuffer) {
  absl::Status s = OpenBytes(
      MakeFile(R"({"model.norm.weight":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})", 64));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "bad.safetensors: tensor \"model.norm.weight\": data_offsets [0, 100] end 100 is "
            "past the data buffer of 64 bytes");
}

TEST(SafetensorsFileErrors, UnknownDType) {
  absl::Status s =
      OpenBytes(MakeFile(R"({"w":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}})", 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("\"w\""),
                                 HasSubstr("dtype \"F8_E9\"")));
}

TEST(SafetensorsFileErrors, ShapeDoesNotMatchByteCount) {
  absl::Status s =
      OpenBytes(MakeFile(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"w\""), HasSubstr("hold 20 bytes"),
                                 HasSubstr("shape [2, 3] of F32 needs 24")));
}

TEST(SafetensorsFileErrors, ShapeProductOverflowIsRejected) {
  absl::Status s = OpenBytes(
      MakeFile(R"({"w":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,4]}})", 4));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("more than 2^64"));
}

TEST(SafetensorsFileErrors, OverlappingTensors) {
  absl::Status s = OpenBytes(MakeFile(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                                          "b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                                      6));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"b\""), HasSubstr("overlap tensor \"a\"")));
}

TEST(SafetensorsFileErrors, HoleBetweenTensors) {
  absl::Status s = OpenBytes(MakeFile(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},
                                          "b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                                      6));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"b\""), HasSubstr("hole: bytes [2, 4)")));
}

TEST(SafetensorsFileErrors, TrailingBytesAfterLastTensor) {
  absl::Status s =
      OpenBytes(MakeFile(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("bytes [2, 5)")));
}

TEST(SafetensorsFileErrors, DuplicateTensorName) {
  absl::Status s = OpenBytes(MakeFile(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},
                                          "a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                                      4));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("duplicate key \"a\"")));
}

TEST(SafetensorsFileErrors, HeaderNotJson) {
  absl::Status s = OpenBytes(MakeFile("{not json", 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("not valid JSON")));
}

TEST(SafetensorsFileErrors, HeaderNotAnObject) {
  absl::Status s = OpenBytes(MakeFile("[1, 2]", 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("must be a JSON object, got array"));
}

TEST(SafetensorsFileErrors, MissingFields) {
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    std::string entry = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
    const std::string key = absl::StrCat("\"", field, "\"");
    // Rename the field so that it is missing.
    entry.replace(entry.find(key), key.size(), "\"other\"");
    absl::Status s = OpenBytes(MakeFile(absl::StrCat(R"({"t":)", entry, "}"), 1));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("\"t\""), HasSubstr(absl::StrCat("missing ", key))));
  }
}

TEST(SafetensorsFileErrors, BadDimensions) {
  for (const char* shape : {"[-1]", "[2.5]", "[\"2\"]", "[18446744073709551615]", "3"}) {
    absl::Status s = OpenBytes(MakeFile(
        absl::StrCat(R"({"t":{"dtype":"U8","shape":)", shape, R"(,"data_offsets":[0,0]}})"), 0));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << shape;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("\"t\""), HasSubstr("shape"))) << shape;
  }
}

TEST(SafetensorsFileErrors, BadOffsets) {
  for (const char* offsets : {"[4,2]", "[0]", "[0,1,2]", "[-1,0]", "\"0,1\"", "[0,1.0]"}) {
    absl::Status s = OpenBytes(MakeFile(
        absl::StrCat(R"({"t":{"dtype":"U8","shape":[0],"data_offsets":)", offsets, "}}"), 4));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << offsets;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("\"t\""), HasSubstr("data_offsets"))) << offsets;
  }
}

TEST(SafetensorsFileErrors, MetadataValuesMustBeStrings) {
  absl::Status s = OpenBytes(MakeFile(R"({"__metadata__":{"step":7}})", 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("__metadata__"), HasSubstr("\"step\"")));
}

TEST(ParseHeader, AcceptsTrailingPaddingAndZeroSizedTensors) {
  auto header = ParseHeader(
      R"({"b":{"dtype":"F16","shape":[0],"data_offsets":[2,2]},"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}    )",
      2, "mem");
  ASSERT_TRUE(header.ok()) << header.status();
  ASSERT_EQ(header->tensors.size(), 2u);
  EXPECT_EQ(header->tensors[0].name, "a");
  EXPECT_EQ(header->tensors[1].begin, 2u);
}

}  // namespace
}  // namespace r1rl::safetensors
