// BatchExchange: how a data-parallel learner's ranks get their rollouts. Rank 0 holds the
// controller; each step it broadcasts the whole batch (c10d broadcast of one byte string)
// and every rank trains on its whole groups of it: rank r of N takes groups
// [r G / N, (r + 1) G / N) of the G groups (advantages stay inside a rank).
//
//   rank 0:  RETURN_IF_ERROR(ex.SendBatch(whole));  mine = BatchExchange::ShardOf(whole, 0, N)
//            ex.KeepAlive() while it waits for rollouts; ex.SendEnd() when the batches end
//            early; ex.SendDone() after the final checkpoint
//   rank r:  ASSIGN_OR_RETURN(auto batch, ex.Receive());   nullopt: no more batches;
//            after its loop, ex.WaitForDone()
//
// While rank 0 waits for rollouts it sends a keep-alive at least every quarter of the
// collectives' timeout, so a slow sampler never trips the others' timeout, and a dead rank 0
// is noticed within it. Rank 0 tells the others when it checkpoints (they may hold part of
// the state) and, at the very end, that the run is over.
//
// Thread-safety: the trainer's thread only (the messages are collectives).
#ifndef R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_
#define R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_

#include <chrono>
#include <functional>
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
  absl::Status SendEnd();   // no more batches (the others leave their loop, then WaitForDone)
  absl::Status SendDone();  // the run is over: the final checkpoint is written
  // A checkpoint is being saved: every other rank runs its on_checkpoint callback (the
  // ZeRO-1 state gather), in step with rank 0.
  absl::Status SendCheckpoint();
  // Sends a keep-alive when nothing went out for a quarter of the timeout; cheap otherwise.
  absl::Status KeepAlive();

  // Every other rank: the next batch (the whole one: take ShardOf), nullopt once rank 0 is done.
  // Checkpoint messages on the way run `on_checkpoint`.
  absl::StatusOr<std::optional<learner::RolloutBatch>> Receive();
  // After the last step: serves checkpoint messages until rank 0 says it is done (its final
  // checkpoint may need this rank).
  absl::Status WaitForDone();
  void set_on_checkpoint(std::function<absl::Status()> f) { on_checkpoint_ = std::move(f); }

  // Rank `rank`'s whole groups of `whole`, with `shard` saying where they sit.
  static learner::RolloutBatch ShardOf(const learner::RolloutBatch& whole, int rank, int world);

 private:
  absl::Status Send(char kind, const std::string& payload);

  ProcessGroup* pg_;
  std::chrono::steady_clock::time_point last_sent_;
  bool done_received_ = false;
  std::function<absl::Status()> on_checkpoint_;
};

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_BATCH_EXCHANGE_H_
