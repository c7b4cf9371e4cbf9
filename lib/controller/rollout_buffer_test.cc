// The rollout buffer on a real RocksDB: order, idempotent ingest, persistence across
// reopen, the consumer cursor, and a writer process killed with SIGKILL mid-stream: every
// group whose ingest had returned is there after reopening, and nothing twice.
#include "lib/controller/rollout_buffer.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace r1rl::learner {
namespace {

std::string TempPath(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/r1rl_buffer_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

v1::RolloutGroup Group(const std::string& lease, int64_t version = 0) {
  v1::RolloutGroup g;
  g.set_lease_id(lease);
  g.set_policy_version(version);
  g.add_samples()->set_text("sample of " + lease);
  return g;
}

TEST(RolloutBuffer, IngestsInOrderAndDropsDuplicates) {
  auto buffer = RolloutBuffer::Open({TempPath("order")});
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  auto& b = **buffer;
  EXPECT_EQ(*b.Ingest(Group("a")), IngestResult::kStored);
  EXPECT_EQ(*b.Ingest(Group("b")), IngestResult::kStored);
  EXPECT_EQ(*b.Ingest(Group("a")), IngestResult::kDuplicate);
  EXPECT_EQ(*b.Ingest(Group("c")), IngestResult::kStored);
  EXPECT_EQ(b.stored_total(), 3u);
  EXPECT_EQ(b.duplicates_total(), 1u);
  EXPECT_EQ(b.unconsumed(), 3u);
  auto peek = b.Peek(10);
  ASSERT_TRUE(peek.ok());
  ASSERT_EQ(peek->size(), 3u);
  EXPECT_EQ((*peek)[0].group.lease_id(), "a");
  EXPECT_EQ((*peek)[2].group.lease_id(), "c");
  EXPECT_EQ((*peek)[0].sequence + 2, (*peek)[2].sequence);
  // Consumed groups are gone; their leases still dedup.
  ASSERT_TRUE(b.Commit((*peek)[1].sequence).ok());
  EXPECT_EQ(b.unconsumed(), 1u);
  EXPECT_EQ(b.Peek(10)->front().group.lease_id(), "c");
  EXPECT_EQ(*b.Ingest(Group("b")), IngestResult::kDuplicate);
  EXPECT_FALSE(b.Ingest(Group("")).ok());
  EXPECT_FALSE(b.Commit(999).ok());
}

TEST(RolloutBuffer, SurvivesReopening) {
  const std::string path = TempPath("reopen");
  {
    auto b = RolloutBuffer::Open({path});
    ASSERT_TRUE(b.ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(*(*b)->Ingest(Group("l" + std::to_string(i))), IngestResult::kStored);
    ASSERT_TRUE((*b)->Commit((*b)->Peek(2)->back().sequence).ok());
  }
  auto b = RolloutBuffer::Open({path});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->unconsumed(), 3u);
  EXPECT_EQ((*b)->Peek(1)->front().group.lease_id(), "l2");
  EXPECT_EQ(*(*b)->Ingest(Group("l0")), IngestResult::kDuplicate);
  EXPECT_EQ(*(*b)->Ingest(Group("l5")), IngestResult::kStored);
  EXPECT_EQ((*b)->Peek(10)->back().group.lease_id(), "l5");
}

TEST(RolloutBuffer, AWriterKilledWithSigkillLosesNothingItAcknowledged) {
  const std::string path = TempPath("sigkill");
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  const pid_t writer = fork();
  if (writer == 0) {
    close(acks[0]);
    auto b = RolloutBuffer::Open({path});
    if (!b.ok()) _exit(3);
    for (int i = 0;; ++i) {
      // Every lease twice: the second must always be a duplicate.
      for (int rep = 0; rep < 2; ++rep) {
        auto r = (*b)->Ingest(Group("lease-" + std::to_string(i)));
        if (!r.ok() || (*r == IngestResult::kDuplicate) != (rep == 1)) _exit(4);
      }
      // Acknowledge after Ingest returned: this group must survive.
      if (write(acks[1], &i, sizeof(i)) != sizeof(i)) _exit(5);
    }
  }
  close(acks[1]);
  int last = -1, got;
  // Let it write for a while, then kill it mid-stream.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(700);
  while (std::chrono::steady_clock::now() < until &&
         read(acks[0], &got, sizeof(got)) == sizeof(got))
    last = got;
  kill(writer, SIGKILL);
  while (read(acks[0], &got, sizeof(got)) == sizeof(got)) last = got;
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer exited by itself: " << status;
  ASSERT_GT(last, 10) << "too few groups written to make the point";
  close(acks[0]);

  auto b = RolloutBuffer::Open({path});
  ASSERT_TRUE(b.ok()) << b.status();
  auto all = (*b)->Peek(1u << 20);
  ASSERT_TRUE(all.ok());
  std::set<std::string> leases;
  for (const BufferedGroup& g : *all)
    EXPECT_TRUE(leases.insert(g.group.lease_id()).second) << "twice: " << g.group.lease_id();
  for (int i = 0; i <= last; ++i)
    EXPECT_TRUE(leases.count("lease-" + std::to_string(i)))
        << "acknowledged lease-" << i << " lost";
  std::cout << "writer killed after " << last + 1 << " acknowledged groups; " << leases.size()
            << " in the buffer after reopening, none twice\n";
}

// A full disk (a 4 MiB tmpfs filled up): ingest is refused with ResourceExhausted naming the
// full disk once less than the reserve (1 MiB here) is free, what was stored before stays
// readable, and once space returns writes go on without reopening the buffer.
TEST(RolloutBuffer, AFullDiskRefusesWritesAndResumesWhenSpaceReturns) {
  const std::string mnt = ::testing::TempDir() + "/r1rl_full_disk_" + std::to_string(getpid());
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  }
  {
    auto opened = RolloutBuffer::Open({mnt + "/buffer", false, int64_t{1} << 20});
    ASSERT_TRUE(opened.ok()) << opened.status();
    RolloutBuffer& b = **opened;
    auto big = [](const std::string& lease) {
      v1::RolloutGroup g = Group(lease);
      g.mutable_samples(0)->set_text(std::string(64 << 10, 'x'));
      return g;
    };
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.Ingest(big("before" + std::to_string(i))).ok());
    {  // fill what is left
      std::ofstream filler(mnt + "/filler", std::ios::binary);
      const std::string block(64 << 10, 'f');
      while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
      }
    }
    absl::Status refused;
    for (int i = 0; i < 200 && refused.ok(); ++i) {
      refused = b.Ingest(big("during" + std::to_string(i))).status();
    }
    EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
    EXPECT_NE(refused.message().find("disk is full"), std::string::npos) << refused;
    auto kept = b.Peek(100);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_GE(kept->size(), 5u);
    EXPECT_EQ((*kept)[0].group.lease_id(), "before0");
    std::filesystem::remove(mnt + "/filler");
    absl::StatusOr<IngestResult> after = absl::UnknownError("not tried");
    for (int i = 0; i < 100 && !after.ok(); ++i) {  // retried at most once a second
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      after = b.Ingest(big("after"));
    }
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(*after, IngestResult::kStored);
    EXPECT_EQ(*b.HasLease("before4"), true);
  }
  ::umount2(mnt.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace r1rl::learner
