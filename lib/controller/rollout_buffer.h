// The learner's rollout buffer: graded RolloutGroups in RocksDB, in the order they were
// ingested, with idempotent ingest keyed by lease id.
//
//   ASSIGN_OR_RETURN(auto buffer, RolloutBuffer::Open({.path = "runs/x/buffer"}));
//   ASSIGN_OR_RETURN(IngestResult r, buffer->Ingest(group));   // kStored or kDuplicate
//   ASSIGN_OR_RETURN(auto batch, buffer->Peek(16));             // oldest unconsumed first
//   RETURN_IF_ERROR(buffer->Commit(batch.back().sequence));     // consumed through there
//
// Column families: "groups" (ingest sequence, big-endian -> serialized group), "leases"
// (lease id -> sequence: the dedup index, kept after consumption so a late duplicate is
// still recognised), "meta" (next sequence, consumer cursor, the learner's resume point). Each
// ingest is one atomic WriteBatch through the write-ahead log: once Ingest returns kStored the
// group survives the process being killed (and, with sync_writes, the machine losing power). A
// group for a lease already ingested is a duplicate: not stored, counted.
//
// Thread-safety: all methods are thread-safe (ingest and commit take one lock).
#ifndef R1RL_LIB_CONTROLLER_ROLLOUT_BUFFER_H_
#define R1RL_LIB_CONTROLLER_ROLLOUT_BUFFER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "r1rl/v1/rollout.pb.h"

namespace r1rl::learner {

struct RolloutBufferOptions {
  std::string path;
  bool sync_writes = false;  // fsync the WAL on every ingest
  // Ingest refuses (ResourceExhausted, "disk is full") while the disk holding `path` has less
  // free than this, so RocksDB itself never meets a full disk: Debian's build aborts on the
  // write after a failed one (an assertion in WritableFileWriter). Writes go on once space
  // returns.
  int64_t min_free_bytes = int64_t{64} << 20;
};

enum class IngestResult { kStored, kDuplicate };

struct BufferedGroup {
  uint64_t sequence = 0;
  v1::RolloutGroup group;
};

class RolloutBuffer {
 public:
  static absl::StatusOr<std::unique_ptr<RolloutBuffer>> Open(const RolloutBufferOptions& options);
  ~RolloutBuffer();

  // InvalidArgument when the group has no lease id.
  absl::StatusOr<IngestResult> Ingest(const v1::RolloutGroup& group);
  // Up to `max` unconsumed groups, oldest first (does not consume them).
  absl::StatusOr<std::vector<BufferedGroup>> Peek(size_t max) const;
  // Marks everything up to and including `sequence` consumed (persisted) and deletes it.
  absl::Status Commit(uint64_t sequence);
  // Consumes every unconsumed group unread (a restarted learner re-leases their prompts).
  // Returns how many.
  absl::StatusOr<uint64_t> DropUnconsumed();
  // The "meta" column family for the learner's own records (the resume point); keys other
  // than the buffer's ("next_sequence", "cursor"). Written through the WAL, synced.
  absl::Status PutMeta(const std::string& key, const std::string& value);
  absl::StatusOr<std::optional<std::string>> GetMeta(const std::string& key) const;
  // Whether a group for this lease was ever stored.
  absl::StatusOr<bool> HasLease(const std::string& lease_id) const;

  uint64_t unconsumed() const;
  uint64_t stored_total() const;  // this process's lifetime
  uint64_t duplicates_total() const;

 private:
  struct Impl;
  explicit RolloutBuffer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_ROLLOUT_BUFFER_H_
