// BatchExchange: how a data-parallel learner's ranks get their rollouts. Rank 0 holds the
// controller; each step it broadcasts the whole batch (c10d broadcast of one byte string)
// and every rank trains on its whole groups of it: rank r of N takes groups
// [r G / N, (r + 1) G / N) of the G groups (advantages stay inside a rank).
//
//   rank 0:  RETURN_IF_ERROR(ex.SendBatch(whole));  mine = BatchExchange::ShardOf(whole, 0, N)
//            ex.KeepAlive() while it waits for rollouts; ex.SendDone() when the run ends
//   rank r:  ASSIGN_OR_RETURN(auto batch, ex.Receive());   nullopt: the run is over
//
// While rank 0 waits for rollouts it sends a keep-alive at least every quarter of the
// collectives' timeout, so a slow sampler never trips the others' timeout, and a dead rank 0
// is noticed within it. Also carries the few state messages ranks exchange (Bytes).
//
// Thread-safety: the trainer's thread only (the messages are collectives).
#ifndef R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_
#define R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_

#include <chrono>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/distributed/process_group.h"
#include "lib/training/grpo_loop.h"

namespace r1rl::distributed {

// The batch as bytes and back (rollouts, group size, shard, the source's statistics).
std::string EncodeBatch(const learner::RolloutBatch& batch);
absl::StatusOr<learner::RolloutBatch> DecodeBatch(const std::string& bytes);

class BatchExchange {
 public:
  explicit BatchExchange(ProcessGroup* pg);

  // Rank 0.
  absl::Status SendBatch(const learner::RolloutBatch& whole);
  absl::Status SendDone();
  // Sends a keep-alive when nothing went out for a quarter of the timeout; cheap otherwise.
  absl::Status KeepAlive();
  bool done_sent() const { return done_sent_; }

  // Every other rank: the next batch (the whole one: take ShardOf), nullopt once rank 0 is done.
  absl::StatusOr<std::optional<learner::RolloutBatch>> Receive();

  // Rank `rank`'s whole groups of `whole`, with `shard` saying where they sit.
  static learner::RolloutBatch ShardOf(const learner::RolloutBatch& whole, int rank, int world);

 private:
  absl::Status Send(char kind, const std::string& payload);

  ProcessGroup* pg_;
  std::chrono::steady_clock::time_point last_sent_;
  bool done_sent_ = false;
};

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_
