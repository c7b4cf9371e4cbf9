#include "lib/broadcast/manifest.h"

#include <gtest/gtest.h>

#include "lib/broadcast/test_weights.h"
#include "lib/transport/xxh3.h"

namespace r1rl::broadcast {
namespace {

TEST(Manifest, ChunksCoverTheBytesWithTheirHashesAndTensorsAreLocated) {
  const std::string bytes = TestWeights(4, 3000, 1);  // 48 KB of data + header
  auto m = BuildManifest(7, bytes, 4096);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version(), 7);
  EXPECT_EQ(m->total_bytes(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(m->chunks_size(), static_cast<int>((bytes.size() + 4095) / 4096));
  std::string joined;
  for (int i = 0; i < m->chunks_size(); ++i) {
    EXPECT_EQ(m->chunks(i).hash(), transport::Xxh128(ChunkOf(bytes, *m, i)));
    joined += ChunkOf(bytes, *m, i);
  }
  EXPECT_EQ(joined, bytes);
  ASSERT_EQ(m->tensors_size(), 4);
  EXPECT_EQ(m->tensors(0).dtype(), "F32");
  EXPECT_EQ(m->tensors(0).size(), 12000);
  EXPECT_EQ(m->tensors(3).offset() + m->tensors(3).size(), static_cast<int64_t>(bytes.size()));
  EXPECT_TRUE(ValidateManifest(*m, 1 << 20).ok());
}

TEST(Manifest, OneChangedTensorChangesOnlyItsChunks) {
  const std::string a = TestWeights(8, 4096, 1);  // 16 KiB per tensor
  const std::string b = TestWeights(8, 4096, 1, /*changed_tensor=*/5, /*changed_seed=*/9);
  ASSERT_EQ(a.size(), b.size());
  auto ma = BuildManifest(1, a, 4096), mb = BuildManifest(2, b, 4096);
  ASSERT_TRUE(ma.ok() && mb.ok());
  int changed = 0;
  for (int i = 0; i < ma->chunks_size(); ++i)
    changed += ma->chunks(i).hash() != mb->chunks(i).hash();
  // 16 KiB of one tensor spans 4 or 5 chunks of 4 KiB (the header shifts the data).
  EXPECT_GE(changed, 4);
  EXPECT_LE(changed, 5);
  EXPECT_NE(ma->hash(), mb->hash());
}

TEST(Manifest, BadInputIsRefusedNamingTheField) {
  EXPECT_FALSE(BuildManifest(1, "short", 4096).ok());
  std::string junk(64, 'x');
  auto st = BuildManifest(1, junk, 4096).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);

  const std::string bytes = TestWeights(2, 1000, 3);
  auto m = BuildManifest(3, bytes, 1000);
  ASSERT_TRUE(m.ok());
  auto expect_bad = [&](v1::Manifest copy, const std::string& needle) {
    absl::Status s = ValidateManifest(copy, 1 << 20);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(std::string(s.message()).find(needle), std::string::npos) << s.message();
  };
  v1::Manifest c = *m;
  c.set_total_bytes(int64_t{1} << 40);
  expect_bad(c, "total_bytes = 1099511627776");
  c = *m;
  c.set_format("npz");
  expect_bad(c, "format = \"npz\"");
  c = *m;
  c.mutable_chunks(1)->set_offset(5);
  expect_bad(c, "chunks[1]");
  c = *m;
  c.mutable_chunks()->RemoveLast();
  expect_bad(c, "chunks has");
  c = *m;
  std::string h = c.chunks(0).hash();
  h[0] ^= 1;
  c.mutable_chunks(0)->set_hash(h);  // a chunk hash changed without the whole's
  expect_bad(c, "does not match its chunks");
  c = *m;
  c.mutable_chunks(0)->set_hash("abc");
  expect_bad(c, "chunks[0].hash has 3 bytes");
}

TEST(Manifest, ChunksGrowPastTheCapSoAManifestStaysSmall) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  // Under the cap: the configured size.
  EXPECT_EQ(ChunkBytesFor(64 * kMiB, kMiB, 16384), kMiB);
  EXPECT_EQ(ChunkBytesFor(16384 * kMiB, kMiB, 16384), kMiB);
  // R1's size in bfloat16 (671 B parameters): 1.28 M chunks of 1 MiB become 79 MiB chunks.
  const int64_t r1 = int64_t{1342} * 1000 * 1000 * 1000;
  const int64_t c = ChunkBytesFor(r1, kMiB, 16384);
  EXPECT_EQ(c, 79 * kMiB);
  EXPECT_LE((r1 + c - 1) / c, 16384);
  EXPECT_GT((r1 + c - kMiB - 1) / (c - kMiB), 16384);  // the smallest whole MiB that fits
  // No cap, or a chunk already large enough: unchanged.
  EXPECT_EQ(ChunkBytesFor(r1, kMiB, 0), kMiB);
  EXPECT_EQ(ChunkBytesFor(r1, 256 * kMiB, 16384), 256 * kMiB);
  EXPECT_EQ(ChunkBytesFor(16384 * kMiB + 1, kMiB, 16384), 2 * kMiB);
}

}  // namespace
}  // namespace r1rl::broadcast
