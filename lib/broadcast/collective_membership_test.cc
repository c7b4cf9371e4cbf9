#include "lib/broadcast/collective_membership.h"

#include "gtest/gtest.h"

namespace r1rl::broadcast {
namespace {

TEST(CollectiveMembership, AJoinerIsInFromTheNextBoundaryOnly) {
  CollectiveMembership m(8);
  m.Join("w1");
  EXPECT_EQ(m.RankOf("w1"), -1);  // no group yet: the relay path
  const CollectiveGroup& g = m.Boundary(1);
  EXPECT_EQ(g.generation, 1);
  EXPECT_EQ(g.world_size(), 2);
  EXPECT_EQ(m.RankOf("w1"), 1);
  m.Join("w2");
  EXPECT_EQ(m.RankOf("w2"), -1);  // version 1 is being sent through the group as formed
  EXPECT_EQ(m.Boundary(2).generation, 2);
  EXPECT_EQ(m.RankOf("w1"), 1);
  EXPECT_EQ(m.RankOf("w2"), 2);
  EXPECT_EQ(m.current().version, 2);
}

TEST(CollectiveMembership, AnUnchangedGroupKeepsItsGeneration) {
  CollectiveMembership m(8);
  m.Join("w1");
  m.Join("w2");
  m.Boundary(1);
  m.Join("w1");  // again: no change
  EXPECT_EQ(m.Boundary(2).generation, 1);
  EXPECT_EQ(m.Boundary(3).generation, 1);
  EXPECT_EQ(m.current().version, 1);  // formed at version 1, still in use
}

TEST(CollectiveMembership, ALeaverStaysUntilTheBoundaryThenRanksCloseUp) {
  CollectiveMembership m(8);
  for (const char* w : {"w1", "w2", "w3"}) m.Join(w);
  m.Boundary(1);
  m.Leave("w2");
  EXPECT_EQ(m.RankOf("w2"), 2);  // the group is fixed while a version is sent
  const CollectiveGroup& g = m.Boundary(2);
  EXPECT_EQ(g.generation, 2);
  EXPECT_EQ(g.world_size(), 3);
  EXPECT_EQ(m.RankOf("w2"), -1);
  EXPECT_EQ(m.RankOf("w3"), 2);
  m.Join("w2");  // back: at the end
  m.Boundary(3);
  EXPECT_EQ(m.RankOf("w2"), 3);
}

TEST(CollectiveMembership, BeyondTheCapReceiversWaitOnTheRelayPath) {
  CollectiveMembership m(2);
  for (const char* w : {"w1", "w2", "w3"}) m.Join(w);
  m.Boundary(1);
  EXPECT_EQ(m.current().world_size(), 3);
  EXPECT_EQ(m.RankOf("w3"), -1);
  m.Leave("w1");  // room for w3 at the next boundary
  m.Boundary(2);
  EXPECT_EQ(m.RankOf("w2"), 1);
  EXPECT_EQ(m.RankOf("w3"), 2);
}

TEST(CollectiveMembership, ABrokenGroupIsFormedAgainAtTheNextBoundary) {
  CollectiveMembership m(8);
  m.Join("w1");
  m.Join("w2");
  EXPECT_EQ(m.Boundary(1).generation, 1);
  m.Break();  // version 1 failed in the group (a hung member)
  EXPECT_TRUE(m.broken());
  const CollectiveGroup& g = m.Boundary(2);  // the same members, a fresh rendezvous
  EXPECT_EQ(g.generation, 2);
  EXPECT_EQ(g.version, 2);
  EXPECT_FALSE(m.broken());
  EXPECT_EQ(m.Boundary(3).generation, 2);
}

}  // namespace
}  // namespace r1rl::broadcast
