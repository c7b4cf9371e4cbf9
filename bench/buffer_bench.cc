// Rollout-buffer ingest: groups/s through RolloutBuffer::Ingest (dedup lookup + one
// WriteBatch of three puts through the WAL) against RocksDB's own write rate for a plain
// Put of the same value size, in one run on the same disk. Group size: 8 samples of 512
// tokens (ids, log-probs and text), as a small GRPO run makes.
//
//   build/bench/buffer_bench [groups] [directory]
#include <rocksdb/db.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "lib/controller/rollout_buffer.h"

namespace {

using Clock = std::chrono::steady_clock;

r1rl::v1::RolloutGroup MakeGroup(int i) {
  r1rl::v1::RolloutGroup g;
  g.set_lease_id("lease-" + std::to_string(i));
  g.set_prompt_id("prompt-" + std::to_string(i));
  for (int s = 0; s < 8; ++s) {
    auto* sample = g.add_samples();
    for (int t = 0; t < 512; ++t) {
      sample->add_completion_ids(1000 + (t * 7 + s) % 50000);
      sample->add_behaviour_logprobs(-0.01f * static_cast<float>(t % 100));
    }
    sample->set_text(std::string(1500, 'x'));
    sample->set_reward(s % 2);
  }
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp/r1rl_buffer_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<std::string> values;
  std::vector<r1rl::v1::RolloutGroup> groups;
  for (int i = 0; i < n; ++i) {
    groups.push_back(MakeGroup(i));
    values.push_back(groups.back().SerializeAsString());
  }
  std::printf("%d groups of %zu bytes each\n", n, values[0].size());
  for (bool sync : {false, true}) {
    const int count = sync ? std::min(n, 300) : n;
    // RocksDB alone: one Put per value, WAL on.
    double raw_rate;
    {
      rocksdb::Options o;
      o.create_if_missing = true;
      rocksdb::DB* db = nullptr;
      const std::string path = dir + (sync ? "/raw_sync" : "/raw");
      if (!rocksdb::DB::Open(o, path, &db).ok()) return 1;
      rocksdb::WriteOptions w;
      w.sync = sync;
      const auto t0 = Clock::now();
      for (int i = 0; i < count; ++i) db->Put(w, "k" + std::to_string(i), values[i]);
      raw_rate = count / std::chrono::duration<double>(Clock::now() - t0).count();
      delete db;
    }
    double buffer_rate;
    {
      auto buffer =
          r1rl::learner::RolloutBuffer::Open({dir + (sync ? "/buffer_sync" : "/buffer"), sync});
      if (!buffer.ok()) return 1;
      const auto t0 = Clock::now();
      for (int i = 0; i < count; ++i) (void)(*buffer)->Ingest(groups[i]);
      buffer_rate = count / std::chrono::duration<double>(Clock::now() - t0).count();
    }
    std::printf(
        "%-28s RocksDB Put %9.0f values/s   RolloutBuffer::Ingest %9.0f groups/s   ratio %.2f\n",
        sync ? "WAL, fsync per write:" : "WAL, no fsync:", raw_rate, buffer_rate,
        buffer_rate / raw_rate);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
