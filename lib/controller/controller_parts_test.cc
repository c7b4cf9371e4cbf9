// The controller's parts on their own: the worker registry (ids, liveness, reports), the
// weight store (snapshots that outlive newer versions, chunked streams) and the checkpoint
// requests (tickets answered by the checkpoint that served them, deadlines, shutdown).
#include <thread>

#include "gtest/gtest.h"
#include "lib/controller/checkpoint_requests.h"
#include "lib/controller/weight_store.h"
#include "lib/controller/worker_registry.h"
#include "lib/transport/sha256.h"

namespace r1rl::learner {
namespace {

using Clock = std::chrono::steady_clock;

TEST(WorkerRegistry, IdsLivenessAndReports) {
  WorkerRegistry workers(std::chrono::seconds(10));
  const auto t0 = Clock::now();
  EXPECT_EQ(workers.Register("", "a", t0), "worker-1");
  EXPECT_EQ(workers.Register("", "b", t0), "worker-2");
  EXPECT_EQ(workers.Register("mine", "c", t0), "mine");
  EXPECT_FALSE(workers.Touch("nobody", t0));
  EXPECT_EQ(workers.Live(t0), 3);
  EXPECT_TRUE(workers.Touch("worker-1", t0 + std::chrono::seconds(8)));
  EXPECT_EQ(workers.Live(t0 + std::chrono::seconds(15)), 1);  // only worker-1 heard lately
  v1::WorkerReport r;
  r.set_worker_id("worker-1");
  r.set_tokens_generated(1000);
  r.set_generate_seconds(4);
  r.set_policy_version(7);
  workers.Report(r);
  v1::ControllerStatus s;
  workers.Fill(&s, t0 + std::chrono::seconds(15));
  EXPECT_EQ(s.workers(), 1);
  ASSERT_EQ(s.worker_info_size(), 3);
  const v1::WorkerInfo& w1 = s.worker_info(2);  // "mine" < "worker-1" < "worker-2"
  EXPECT_EQ(w1.worker_id(), "worker-2");
  EXPECT_FALSE(w1.live());
  EXPECT_EQ(w1.policy_version(), -1);  // never reported
  EXPECT_EQ(s.worker_info(1).policy_version(), 7);
  EXPECT_DOUBLE_EQ(s.worker_info(1).tokens_per_second(), 250.0);
}

// Issue 19: an anonymous Register was given the id of a live worker and took over its row.
TEST(WorkerRegistry, IdsAreUniqueAmongLiveWorkers) {
  WorkerRegistry workers(std::chrono::seconds(10));
  const auto t0 = Clock::now();
  EXPECT_EQ(workers.Register("worker-1", "a", t0), "worker-1");  // named by `cluster up`
  EXPECT_EQ(workers.Register("", "attacker", t0), "worker-2");   // not worker-1
  const std::string again = workers.Register("worker-1", "attacker", t0);
  EXPECT_NE(again, "worker-1");
  EXPECT_EQ(again.rfind("worker-1-", 0), 0u) << again;
  // Once the first has gone quiet past the horizon, a restarted worker-1 gets its name back.
  EXPECT_EQ(workers.Register("worker-1", "a", t0 + std::chrono::seconds(11)), "worker-1");
}

TEST(WeightStore, SnapshotsOutliveNewerVersionsAndStreamInChunks) {
  WeightStore store;
  EXPECT_FALSE(store.has_weights());
  std::string big(2 * WeightStore::kChunkBytes + 5, 'x');
  store.Publish(1, big);
  auto v1_snapshot = store.Latest();
  store.Publish(2, "tiny");
  EXPECT_EQ(store.Latest()->version, 2);
  EXPECT_EQ(v1_snapshot->version, 1);  // a reader's snapshot is untouched
  EXPECT_EQ(v1_snapshot->sha256, transport::Sha256Hex(big));
  std::vector<v1::WeightsChunk> chunks;
  const int64_t sent = WeightStore::Stream(*v1_snapshot, [&](const v1::WeightsChunk& c) {
    chunks.push_back(c);
    return true;
  });
  EXPECT_EQ(sent, static_cast<int64_t>(big.size()));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].policy_version(), 1);
  EXPECT_EQ(chunks[0].total_bytes(), static_cast<int64_t>(big.size()));
  EXPECT_EQ(chunks[0].sha256(), v1_snapshot->sha256);
  EXPECT_EQ(chunks[2].offset(), static_cast<int64_t>(2 * WeightStore::kChunkBytes));
  EXPECT_EQ(chunks[2].data().size(), 5u);
  int calls = 0;
  EXPECT_EQ(WeightStore::Stream(*v1_snapshot, [&](const v1::WeightsChunk&) { return ++calls < 2; }),
            -1);  // the reader went away after one chunk
  WeightStore::Snapshot empty;
  EXPECT_EQ(WeightStore::Stream(empty, [](const v1::WeightsChunk&) { return true; }), 0);
}

TEST(CheckpointRequests, TicketsAreAnsweredByTheCheckpointThatServedThem) {
  CheckpointRequests requests;
  int woken = 0;
  requests.set_on_request([&] { ++woken; });
  EXPECT_EQ(requests.Pending(), 0);
  const int64_t a = requests.Request(), b = requests.Request();
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(requests.Pending(), b);
  std::thread trainer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    requests.Served(requests.Pending(), 12, "ck/step-12");
  });
  auto got = requests.Wait(a, Clock::now() + std::chrono::seconds(10), [] { return false; });
  trainer.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->step, 12);
  EXPECT_EQ(got->path, "ck/step-12");
  EXPECT_TRUE(requests.Wait(b, Clock::now(), [] { return false; }).ok());  // served together
  EXPECT_EQ(requests.Pending(), 0);
  const int64_t c = requests.Request();
  auto late = requests.Wait(c, Clock::now() + std::chrono::milliseconds(20), [] { return false; });
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  requests.Shutdown();
  auto stopped = requests.Wait(c, Clock::now() + std::chrono::seconds(10), [] { return false; });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace r1rl::learner
