#include "lib/broadcast/relay_topology.h"

#include <gtest/gtest.h>

namespace r1rl::broadcast {
namespace {

v1::Peer Root() {
  v1::Peer p;
  p.set_id("root");
  p.set_endpoint("tcp://svc:5561");
  return p;
}

TEST(RelayTopology, OneChainFeedsEachFromThePrevious) {
  RelayTopology t(1, Root());
  EXPECT_EQ(t.Join("a", "tcp://a:1").id(), "root");
  EXPECT_EQ(t.Join("b", "tcp://b:1").id(), "a");
  EXPECT_EQ(t.Join("c", "tcp://c:1").id(), "b");
  EXPECT_EQ(t.Join("b", "tcp://b:2").id(), "a");  // a rejoin keeps its place, new endpoint
  EXPECT_EQ(t.Parent("c")->endpoint(), "tcp://b:2");
  t.Remove("b");  // dead relay: its child is fed by its parent
  EXPECT_EQ(t.Parent("c")->id(), "a");
  t.Remove("a");
  EXPECT_EQ(t.Parent("c")->id(), "root");
  EXPECT_FALSE(t.Parent("a").has_value());
  EXPECT_EQ(t.Join("a", "tcp://a:1").id(), "c");  // back, at the tail
  EXPECT_EQ(t.size(), 2u);
}

TEST(RelayTopology, FanoutChainsStayBalanced) {
  RelayTopology t(3, Root());
  for (int i = 0; i < 9; ++i) t.Join("w" + std::to_string(i), "tcp://w:1");
  ASSERT_EQ(t.chains().size(), 3u);
  int fed_by_root = 0;
  for (const auto& c : t.chains()) {
    EXPECT_EQ(c.size(), 3u);
    fed_by_root += t.Parent(c.front().id())->id() == "root";
  }
  EXPECT_EQ(fed_by_root, 3);
  t.Remove("w0");
  t.Remove("w3");
  EXPECT_EQ(t.Find("w10").chain, -1);
  t.Join("w10", "tcp://w:1");  // to the shortest chain (the one that lost two)
  EXPECT_EQ(t.chains()[static_cast<size_t>(t.Find("w10").chain)].size(), 2u);
}

}  // namespace
}  // namespace r1rl::broadcast
