// Leases: order, the staleness window, expiry and re-grant with the same lease id, late and
// unknown completions, pause, the end of the data.
#include "lib/controller/lease_manager.h"

#include "gtest/gtest.h"

namespace r1rl::learner {
namespace {

using std::chrono::milliseconds;

std::function<std::optional<PromptRow>()> Rows(int n) {
  auto next = std::make_shared<int>(0);
  return [n, next]() -> std::optional<PromptRow> {
    if (*next >= n) return std::nullopt;
    const int i = (*next)++;
    return PromptRow{"p" + std::to_string(i), "prompt " + std::to_string(i), "{}"};
  };
}

TEST(LeaseManager, OnPolicyWindowIsOneStep) {
  LeaseOptions o;
  o.groups_per_step = 4;
  o.max_staleness = 0;
  LeaseManager m(o, Rows(100));
  const auto t0 = LeaseClock::now();
  auto a = m.Grant("w1", 3, t0);
  auto b = m.Grant("w2", 3, t0);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 1u);  // one step's worth in flight
  EXPECT_EQ(a[0].prompt.prompt_id, "p0");
  EXPECT_EQ(b[0].prompt.prompt_id, "p3");
  EXPECT_TRUE(m.Grant("w3", 5, t0).empty());
  for (const auto& l : a) EXPECT_TRUE(m.Completed(l.lease_id));
  EXPECT_TRUE(m.Completed(b[0].lease_id));
  EXPECT_TRUE(m.Grant("w3", 5, t0).empty());  // completed but not yet trained on
  m.Consumed(4);
  m.SetPolicyVersion(1);
  auto c = m.Grant("w3", 5, t0);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].policy_version, 1);
  EXPECT_EQ(m.Stats().outstanding, 4);
}

TEST(LeaseManager, StalenessWidensTheWindow) {
  LeaseOptions o;
  o.groups_per_step = 4;
  o.max_staleness = 2;
  LeaseManager m(o, Rows(100));
  EXPECT_EQ(m.Grant("w", 100, LeaseClock::now()).size(), 12u);
}

TEST(LeaseManager, ExpiredLeasesAreGrantedAgainFirstWithTheSameId) {
  LeaseOptions o;
  o.groups_per_step = 2;
  o.lease_duration = milliseconds(1000);
  LeaseManager m(o, Rows(100));
  const auto t0 = LeaseClock::now();
  auto a = m.Grant("dead-worker", 2, t0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_TRUE(m.Grant("w2", 2, t0 + milliseconds(500)).empty());  // not expired yet, window full
  m.SetPolicyVersion(3);
  auto b = m.Grant("w2", 2, t0 + milliseconds(1500));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].lease_id, a[0].lease_id);
  EXPECT_EQ(b[0].attempt, 2);
  EXPECT_EQ(b[0].worker, "w2");
  EXPECT_EQ(b[0].policy_version, 3);
  EXPECT_EQ(b[0].deadline, t0 + milliseconds(2500));
  EXPECT_EQ(m.Stats().expired, 2);
  EXPECT_EQ(m.Stats().regranted, 2);
  EXPECT_EQ(m.Stats().granted, 4);
  // The first arrival completes the lease; the other copy is unknown by then.
  EXPECT_TRUE(m.Completed(a[0].lease_id));
  EXPECT_FALSE(m.Completed(b[0].lease_id));
  EXPECT_FALSE(m.Completed("never-granted"));
  EXPECT_EQ(m.Stats().unknown_completions, 2);
}

// leases_waiting, the workers' autoscaling signal: the window's free places plus expired
// leases nobody has taken again.
TEST(LeaseManager, WaitingCountsWhatNoWorkerHasTaken) {
  LeaseOptions o;
  o.groups_per_step = 4;
  o.lease_duration = milliseconds(1000);
  LeaseManager m(o, Rows(100));
  const auto t0 = LeaseClock::now();
  EXPECT_EQ(m.Stats().waiting, 4);  // a whole step and no worker yet
  ASSERT_EQ(m.Grant("w1", 3, t0).size(), 3u);
  EXPECT_EQ(m.Stats().waiting, 1);
  ASSERT_EQ(m.Grant("w2", 1, t0).size(), 1u);
  EXPECT_EQ(m.Stats().waiting, 0);                                      // enough workers
  EXPECT_TRUE(m.Grant("w2", 1, t0 + milliseconds(1500)).size() == 1u);  // expiry noticed
  EXPECT_EQ(m.Stats().waiting, 3);  // w1's three wait for a re-grant
  m.Pause(true);
  EXPECT_EQ(m.Stats().waiting, 0);  // paused: nothing to take
}

TEST(LeaseManager, ALateGroupBeforeTheRegrantCompletesTheLease) {
  LeaseOptions o;
  o.groups_per_step = 1;
  o.lease_duration = milliseconds(10);
  LeaseManager m(o, Rows(100));
  const auto t0 = LeaseClock::now();
  auto a = m.Grant("w1", 1, t0);
  EXPECT_TRUE(m.Grant("w2", 1, t0 + milliseconds(20)).size() == 1);  // expired, granted to w2
  EXPECT_TRUE(m.Completed(a[0].lease_id));
  m.Consumed(1);
  m.SetPolicyVersion(1);
  auto next = m.Grant("w3", 1, t0 + milliseconds(30));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].prompt.prompt_id, "p1");  // the expired one is not granted a third time
}

// Strictly on-policy: a prompt leased while the trainer works on its batch would be sampled
// with weights one version too old, so the window stays shut until the version moves, and a
// group the trainer throws away frees its place at once (the step still needs one).
TEST(LeaseManager, GroupsInTrainingHoldTheWindowUntilTheVersionMoves) {
  LeaseOptions o;
  o.groups_per_step = 2;
  LeaseManager m(o, Rows(100));
  const auto t0 = LeaseClock::now();
  auto a = m.Grant("w", 2, t0);
  ASSERT_EQ(a.size(), 2u);
  for (const auto& l : a) m.Completed(l.lease_id);
  m.Consumed(2);
  EXPECT_TRUE(m.Grant("w", 2, t0).empty()) << "leased during training: stale on arrival";
  m.Discarded(1);
  auto b = m.Grant("w", 2, t0);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].policy_version, 0);
  m.Completed(b[0].lease_id);
  m.Consumed(1);
  m.SetPolicyVersion(1);
  auto c = m.Grant("w", 5, t0);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].policy_version, 1);
}

TEST(LeaseManager, PauseAndTheEndOfTheData) {
  LeaseOptions o;
  o.groups_per_step = 10;
  LeaseManager m(o, Rows(3));
  m.Pause(true);
  EXPECT_TRUE(m.Grant("w", 5, LeaseClock::now()).empty());
  m.Pause(false);
  EXPECT_EQ(m.Grant("w", 5, LeaseClock::now()).size(), 3u);
  EXPECT_TRUE(m.Stats().dataset_exhausted);
  EXPECT_EQ(m.Stats().granted, 3);
}

}  // namespace
}  // namespace r1rl::learner
