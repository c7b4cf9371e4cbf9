#include "lib/transport/xxh3.h"

#include <gtest/gtest.h>

#include "lib/transport/sha256.h"

namespace r1rl::transport {
namespace {

TEST(Xxh128, KnownValuesAndHex) {
  // Reference values from xxhsum -H2 (xxHash 0.8.1): the empty string and "abc".
  EXPECT_EQ(HexOf(Xxh128("")), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(HexOf(Xxh128("abc")), "06b05ab6733a618578af5f94892f3950");
  EXPECT_EQ(Xxh128("abc").size(), kXxh128Bytes);
  EXPECT_NE(Xxh128("abc"), Xxh128("abd"));
  EXPECT_EQ(HexOf(std::string("\x00\xff", 2)), "00ff");
}

}  // namespace
}  // namespace r1rl::transport
