#include "lib/broadcast/manifest.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/broadcast/wall_clock.h"
#include "lib/safetensors/safetensors.h"
#include "lib/transport/sha256.h"
#include "lib/transport/xxh3.h"

namespace r1rl::broadcast {

int64_t ChunkBytesFor(int64_t total_bytes, int64_t chunk_bytes, int64_t max_chunks) {
  if (max_chunks <= 0 || total_bytes <= 0 || chunk_bytes < 1) return chunk_bytes;
  if ((total_bytes + chunk_bytes - 1) / chunk_bytes <= max_chunks) return chunk_bytes;
  constexpr int64_t kMiB = int64_t{1} << 20;
  const int64_t need = (total_bytes + max_chunks - 1) / max_chunks;
  return std::max(chunk_bytes, (need + kMiB - 1) / kMiB * kMiB);
}

absl::StatusOr<v1::Manifest> BuildManifest(int64_t version, std::string_view bytes,
                                           int64_t chunk_bytes, bool tensor_hashes) {
  if (chunk_bytes < 1)
    return absl::InvalidArgumentError(absl::StrCat("chunk_bytes = ", chunk_bytes));
  if (bytes.size() < 8)
    return absl::InvalidArgumentError(
        absl::StrCat("weights: ", bytes.size(), " bytes is too short for a safetensors file"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // little-endian hosts only, as the reader
  if (header_len > safetensors::kMaxHeaderBytes || header_len > bytes.size() - 8)
    return absl::InvalidArgumentError(
        absl::StrCat("weights: safetensors header length ", header_len, " past the end"));
  const uint64_t data_start = 8 + header_len;
  auto header = safetensors::ParseHeader(bytes.substr(8, header_len), bytes.size() - data_start,
                                         absl::StrCat("policy version ", version));
  if (!header.ok()) return header.status();
  v1::Manifest m;
  m.set_version(version);
  m.set_format("safetensors");
  m.set_total_bytes(static_cast<int64_t>(bytes.size()));
  m.set_chunk_bytes(chunk_bytes);
  m.set_published_unix_ms(UnixMillis());
  for (const safetensors::HeaderEntry& e : header->tensors) {
    v1::TensorEntry* t = m.add_tensors();
    t->set_name(e.name);
    t->set_dtype(std::string(safetensors::DTypeName(e.dtype)));
    t->mutable_shape()->Add(e.shape.begin(), e.shape.end());
    t->set_offset(static_cast<int64_t>(data_start + e.begin));
    t->set_size(static_cast<int64_t>(e.end - e.begin));
    if (tensor_hashes) {
      t->set_hash(transport::Xxh128(
          bytes.substr(static_cast<size_t>(t->offset()), static_cast<size_t>(t->size()))));
    }
  }
  for (int64_t off = 0; off < static_cast<int64_t>(bytes.size()); off += chunk_bytes) {
    const int64_t size = std::min<int64_t>(chunk_bytes, static_cast<int64_t>(bytes.size()) - off);
    v1::ChunkEntry* c = m.add_chunks();
    c->set_offset(off);
    c->set_size(size);
    c->set_hash(
        transport::Xxh128(bytes.substr(static_cast<size_t>(off), static_cast<size_t>(size))));
  }
  m.set_hash(WholeHash(m));
  return m;
}

std::string WholeHash(const v1::Manifest& manifest) {
  std::string all;
  all.reserve(static_cast<size_t>(manifest.chunks_size()) * transport::kXxh128Bytes);
  for (const v1::ChunkEntry& c : manifest.chunks()) all += c.hash();
  return transport::Xxh128(all);
}

absl::Status ValidateManifest(const v1::Manifest& m, int64_t max_total_bytes) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest of version ", m.version(), ": ", what));
  };
  if (m.version() < 0) return bad(absl::StrCat("version = ", m.version()));
  if (m.format() != "safetensors") return bad(absl::StrCat("format = \"", m.format(), "\""));
  if (m.total_bytes() <= 0 || m.total_bytes() > max_total_bytes)
    return bad(absl::StrCat("total_bytes = ", m.total_bytes(), " (limit ", max_total_bytes, ")"));
  if (m.chunk_bytes() <= 0) return bad(absl::StrCat("chunk_bytes = ", m.chunk_bytes()));
  const int64_t expected = (m.total_bytes() + m.chunk_bytes() - 1) / m.chunk_bytes();
  if (m.chunks_size() != expected)
    return bad(absl::StrCat("chunks has ", m.chunks_size(), " entries where ", expected,
                            " cover total_bytes = ", m.total_bytes()));
  for (int i = 0; i < m.chunks_size(); ++i) {
    const v1::ChunkEntry& c = m.chunks(i);
    const int64_t off = int64_t{i} * m.chunk_bytes();
    const int64_t size = std::min(m.chunk_bytes(), m.total_bytes() - off);
    if (c.offset() != off || c.size() != size)
      return bad(absl::StrCat("chunks[", i, "] = [offset ", c.offset(), ", size ", c.size(),
                              "] where [", off, ", ", size, "] was expected"));
    if (c.hash().size() != transport::kXxh128Bytes)
      return bad(absl::StrCat("chunks[", i, "].hash has ", c.hash().size(), " bytes"));
  }
  if (m.hash() != WholeHash(m))
    return bad(absl::StrCat("hash = ", transport::HexOf(m.hash()), " does not match its chunks (",
                            transport::HexOf(WholeHash(m)), ")"));
  return absl::OkStatus();
}

std::string_view ChunkOf(std::string_view bytes, const v1::Manifest& manifest, int index) {
  const v1::ChunkEntry& c = manifest.chunks(index);
  return bytes.substr(static_cast<size_t>(c.offset()), static_cast<size_t>(c.size()));
}

}  // namespace r1rl::broadcast
