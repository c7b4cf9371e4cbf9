#include "lib/controller/rollout_buffer.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace r1rl::learner {
namespace {

std::string SequenceKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i) {
    k[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return k;
}

uint64_t ParseSequence(const rocksdb::Slice& s) {
  uint64_t v = 0;
  for (size_t i = 0; i < s.size() && i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// A full disk is ResourceExhausted (the caller refuses the write and goes on: nothing it
// acknowledged is lost); other failures are Internal.
absl::Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": the disk is full (", s.ToString(),
                                                     "); writes resume once space returns"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

constexpr char kNextSequence[] = "next_sequence";
constexpr char kCursor[] = "cursor";  // the last consumed sequence

}  // namespace

struct RolloutBuffer::Impl {
  RolloutBufferOptions options;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, groups, leases, meta
  rocksdb::ColumnFamilyHandle* groups = nullptr;
  rocksdb::ColumnFamilyHandle* leases = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  mutable std::mutex mu;
  uint64_t next_sequence = 1;
  uint64_t cursor = 0;
  std::atomic<uint64_t> stored{0}, duplicates{0};
  // After a failed write RocksDB refuses every write until DB::Resume(); tried again at most
  // once a second (under mu), so a disk that fills and empties again costs no restart.
  bool write_failed = false;
  std::chrono::steady_clock::time_point last_resume{};

  // OK while the disk keeps the reserve: checked before each ingest (what grows the
  // buffer), not before commits and meta, which are small and free space.
  absl::Status CheckFreeSpace() const {
    struct statvfs fs {};
    if (options.min_free_bytes <= 0 || ::statvfs(options.path.c_str(), &fs) != 0) {
      return absl::OkStatus();
    }
    const int64_t free_bytes =
        static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
    if (free_bytes >= options.min_free_bytes) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(
        "rollout buffer: the disk is full: ", free_bytes >> 20, " MiB free under ", options.path,
        ", below the ", options.min_free_bytes >> 20,
        " MiB reserve (learner.buffer_min_free_mb); ingest resumes once space returns"));
  }

  // Under mu: OK when RocksDB takes writes (no failed write it has not recovered from).
  absl::Status RecoverLocked() {
    if (!write_failed) return absl::OkStatus();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_resume < std::chrono::seconds(1)) {
      return absl::ResourceExhaustedError(
          "rollout buffer: a write failed (disk full?) less than a second ago; not retried yet");
    }
    last_resume = now;
    // Only a successful Resume() clears the error: a write on the failed log aborts (above).
    if (absl::Status r = FromRocks(db->Resume(), "rollout buffer: resuming writes"); !r.ok()) {
      return r;
    }
    write_failed = false;
    return absl::OkStatus();
  }
  absl::Status Written(const rocksdb::Status& s, const std::string& what) {
    if (!s.ok()) write_failed = true;
    return FromRocks(s, what);
  }

  rocksdb::WriteOptions Write() const {
    rocksdb::WriteOptions w;
    w.sync = options.sync_writes;
    return w;
  }

  ~Impl() {
    for (auto* h : handles) {
      if (db) db->DestroyColumnFamilyHandle(h);
    }
    if (db) db->Close();
  }
};

RolloutBuffer::RolloutBuffer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RolloutBuffer::~RolloutBuffer() = default;

absl::StatusOr<std::unique_ptr<RolloutBuffer>> RolloutBuffer::Open(
    const RolloutBufferOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout buffer at ", options.path, ": ", ec.message()));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"groups", rocksdb::ColumnFamilyOptions()},
      {"leases", rocksdb::ColumnFamilyOptions()},
      {"meta", rocksdb::ColumnFamilyOptions()}};
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, families, &impl->handles, &db);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout buffer at ", options.path, ": ", s.ToString()));
  }
  impl->db.reset(db);
  impl->groups = impl->handles[1];
  impl->leases = impl->handles[2];
  impl->meta = impl->handles[3];
  std::string value;
  if (impl->db->Get(rocksdb::ReadOptions(), impl->meta, kNextSequence, &value).ok())
    impl->next_sequence = ParseSequence(value);
  if (impl->db->Get(rocksdb::ReadOptions(), impl->meta, kCursor, &value).ok())
    impl->cursor = ParseSequence(value);
  return std::unique_ptr<RolloutBuffer>(new RolloutBuffer(std::move(impl)));
}

absl::StatusOr<IngestResult> RolloutBuffer::Ingest(const v1::RolloutGroup& group) {
  if (group.lease_id().empty())
    return absl::InvalidArgumentError("group.lease_id: empty (every group needs its lease)");
  std::string bytes;
  if (!group.SerializeToString(&bytes))
    return absl::InvalidArgumentError("group: cannot be serialized");
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string existing;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->leases, group.lease_id(), &existing);
  if (s.ok()) {
    ++impl_->duplicates;
    return IngestResult::kDuplicate;
  }
  if (!s.IsNotFound()) return FromRocks(s, "rollout buffer: reading the lease index");
  if (absl::Status r = impl_->CheckFreeSpace(); !r.ok()) return r;
  if (absl::Status r = impl_->RecoverLocked(); !r.ok()) return r;
  const uint64_t seq = impl_->next_sequence;
  rocksdb::WriteBatch batch;
  batch.Put(impl_->groups, SequenceKey(seq), bytes);
  batch.Put(impl_->leases, group.lease_id(), SequenceKey(seq));
  batch.Put(impl_->meta, kNextSequence, SequenceKey(seq + 1));
  if (auto st = impl_->Written(impl_->db->Write(impl_->Write(), &batch), "rollout buffer: ingest");
      !st.ok())
    return st;
  impl_->next_sequence = seq + 1;
  ++impl_->stored;
  return IngestResult::kStored;
}

absl::StatusOr<std::vector<BufferedGroup>> RolloutBuffer::Peek(size_t max) const {
  uint64_t cursor;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    cursor = impl_->cursor;
  }
  std::vector<BufferedGroup> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->groups));
  for (it->Seek(SequenceKey(cursor + 1)); it->Valid() && out.size() < max; it->Next()) {
    BufferedGroup g;
    g.sequence = ParseSequence(it->key());
    if (!g.group.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("rollout buffer: group ", g.sequence, " does not parse"));
    }
    out.push_back(std::move(g));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "rollout buffer: reading groups");
  return out;
}

absl::Status RolloutBuffer::Commit(uint64_t sequence) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (sequence <= impl_->cursor) return absl::OkStatus();
  if (sequence >= impl_->next_sequence) {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit through ", sequence, ": only ", impl_->next_sequence - 1, " groups were ingested"));
  }
  if (absl::Status r = impl_->RecoverLocked(); !r.ok()) return r;
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, kCursor, SequenceKey(sequence));
  batch.DeleteRange(impl_->groups, SequenceKey(impl_->cursor + 1), SequenceKey(sequence + 1));
  if (auto st = impl_->Written(impl_->db->Write(impl_->Write(), &batch), "rollout buffer: commit");
      !st.ok())
    return st;
  impl_->cursor = sequence;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RolloutBuffer::DropUnconsumed() {
  uint64_t last = 0, n = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    last = impl_->next_sequence - 1;
    n = last - impl_->cursor;
  }
  if (n == 0) return uint64_t{0};
  if (auto st = Commit(last); !st.ok()) return st;
  return n;
}

absl::Status RolloutBuffer::PutMeta(const std::string& key, const std::string& value) {
  if (key == kNextSequence || key == kCursor)
    return absl::InvalidArgumentError(absl::StrCat("meta key ", key, ": the buffer's own"));
  rocksdb::WriteOptions w;
  w.sync = true;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (absl::Status r = impl_->RecoverLocked(); !r.ok()) return r;
  return impl_->Written(impl_->db->Put(w, impl_->meta, key, value), "rollout buffer: writing meta");
}

absl::StatusOr<std::optional<std::string>> RolloutBuffer::GetMeta(const std::string& key) const {
  std::string v;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, key, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "rollout buffer: reading meta");
  return std::optional<std::string>(std::move(v));
}

absl::StatusOr<bool> RolloutBuffer::HasLease(const std::string& lease_id) const {
  std::string v;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->leases, lease_id, &v);
  if (s.ok()) return true;
  if (s.IsNotFound()) return false;
  return FromRocks(s, "rollout buffer: reading the lease index");
}

uint64_t RolloutBuffer::unconsumed() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->next_sequence - 1 - impl_->cursor;
}
uint64_t RolloutBuffer::stored_total() const { return impl_->stored; }
uint64_t RolloutBuffer::duplicates_total() const { return impl_->duplicates; }

}  // namespace r1rl::learner
