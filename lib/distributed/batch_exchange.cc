#include "lib/distributed/batch_exchange.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace r1rl::distributed {
namespace {

constexpr char kBatch = 'B', kWait = 'W', kDone = 'D', kCheckpoint = 'C', kEnd = 'E';

class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    out_ += s;
  }
  template <typename T>
  void PutVector(const std::vector<T>& v) {
    Put<uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    if (in_.size() - at_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  bool GetString(std::string* s) {
    uint64_t n = 0;
    if (!Get(&n) || in_.size() - at_ < n) return false;
    s->assign(in_.data() + at_, n);
    at_ += n;
    return true;
  }
  template <typename T>
  bool GetVector(std::vector<T>* v) {
    uint64_t n = 0;
    if (!Get(&n) || (in_.size() - at_) / sizeof(T) < n) return false;
    v->resize(n);
    std::memcpy(v->data(), in_.data() + at_, n * sizeof(T));
    at_ += n * sizeof(T);
    return true;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  const std::string& in_;
  size_t at_ = 0;
};

}  // namespace

std::string EncodeBatch(const learner::RolloutBatch& b) {
  Writer w;
  w.Put<int64_t>(b.group_size);
  w.Put<int64_t>(b.shard.offset);
  w.Put<int64_t>(b.shard.total);
  w.Put<uint64_t>(b.stats.size());
  for (const auto& [k, v] : b.stats) {
    w.PutString(k);
    w.Put<double>(v);
  }
  w.Put<uint64_t>(b.rollouts.size());
  for (const learner::Rollout& r : b.rollouts) {
    w.Put<int64_t>(r.group_id);
    w.PutVector(r.prompt_ids);
    w.PutVector(r.completion_ids);
    w.PutVector(r.behaviour_logprobs);
    w.Put<uint8_t>(r.truncated ? 1 : 0);
    w.Put<int64_t>(r.policy_version);
    w.Put<double>(r.reward);
    w.Put<uint64_t>(r.reward_components.size());
    for (const auto& [k, v] : r.reward_components) {
      w.PutString(k);
      w.Put<double>(v);
    }
    w.Put<double>(r.advantage);
  }
  return w.Take();
}

absl::StatusOr<learner::RolloutBatch> DecodeBatch(const std::string& bytes) {
  Reader in(bytes);
  learner::RolloutBatch b;
  uint64_t n = 0;
  bool ok =
      in.Get(&b.group_size) && in.Get(&b.shard.offset) && in.Get(&b.shard.total) && in.Get(&n);
  for (uint64_t i = 0; ok && i < n; ++i) {
    std::string k;
    double v = 0;
    ok = in.GetString(&k) && in.Get(&v);
    b.stats[k] = v;
  }
  ok = ok && in.Get(&n);
  for (uint64_t i = 0; ok && i < n; ++i) {
    learner::Rollout r;
    uint8_t truncated = 0;
    uint64_t comps = 0;
    ok = in.Get(&r.group_id) && in.GetVector(&r.prompt_ids) && in.GetVector(&r.completion_ids) &&
         in.GetVector(&r.behaviour_logprobs) && in.Get(&truncated) && in.Get(&r.policy_version) &&
         in.Get(&r.reward) && in.Get(&comps);
    for (uint64_t c = 0; ok && c < comps; ++c) {
      std::string k;
      double v = 0;
      ok = in.GetString(&k) && in.Get(&v);
      r.reward_components[k] = v;
    }
    ok = ok && in.Get(&r.advantage);
    r.truncated = truncated != 0;
    b.rollouts.push_back(std::move(r));
  }
  if (!ok || !in.done()) {
    return absl::DataLossError(
        absl::StrCat("rank 0's batch message (", bytes.size(), " bytes) is malformed"));
  }
  return b;
}

BatchExchange::BatchExchange(ProcessGroup* pg)
    : pg_(pg), last_sent_(std::chrono::steady_clock::now()) {}

absl::Status BatchExchange::Send(char kind, const std::string& payload) {
  std::string msg(1, kind);
  msg += payload;
  last_sent_ = std::chrono::steady_clock::now();
  return pg_->BroadcastBytes(&msg, 0);
}

absl::Status BatchExchange::SendBatch(const learner::RolloutBatch& whole) {
  return Send(kBatch, EncodeBatch(whole));
}

absl::Status BatchExchange::SendDone() { return Send(kDone, ""); }

absl::Status BatchExchange::SendEnd() { return Send(kEnd, ""); }

absl::Status BatchExchange::SendCheckpoint() { return Send(kCheckpoint, ""); }

absl::Status BatchExchange::WaitForDone() {
  while (!done_received_) {
    auto b = Receive();
    if (!b.ok()) return b.status();
    if (b->has_value()) return absl::DataLossError("rank 0 sent a batch after the last step");
  }
  return absl::OkStatus();
}

absl::Status BatchExchange::KeepAlive() {
  if (std::chrono::steady_clock::now() - last_sent_ < pg_->options().timeout / 4) {
    return absl::OkStatus();
  }
  return Send(kWait, "");
}

absl::StatusOr<std::optional<learner::RolloutBatch>> BatchExchange::Receive() {
  while (true) {
    std::string msg;
    if (absl::Status s = pg_->BroadcastBytes(&msg, 0); !s.ok()) return s;
    if (msg.empty()) return absl::DataLossError("rank 0 sent an empty message");
    switch (msg[0]) {
      case kWait:
        continue;
      case kDone:
        done_received_ = true;
        return std::nullopt;
      case kEnd:
        return std::nullopt;
      case kCheckpoint:
        if (on_checkpoint_) {
          if (absl::Status s = on_checkpoint_(); !s.ok()) return s;
        }
        continue;
      case kBatch: {
        auto b = DecodeBatch(msg.substr(1));
        if (!b.ok()) return b.status();
        return std::optional<learner::RolloutBatch>(std::move(*b));
      }
      default:
        return absl::DataLossError(
            absl::StrCat("rank 0 sent a message of unknown kind ", static_cast<int>(msg[0])));
    }
  }
}

learner::RolloutBatch BatchExchange::ShardOf(const learner::RolloutBatch& whole, int rank,
                                             int world) {
  learner::RolloutBatch out;
  out.group_size = whole.group_size;
  out.stats = whole.stats;
  const int64_t g = whole.group_size;
  const int64_t groups = g > 0 ? static_cast<int64_t>(whole.rollouts.size()) / g : 0;
  const int64_t first = rank * groups / world, end = (rank + 1) * groups / world;
  out.rollouts.assign(whole.rollouts.begin() + first * g, whole.rollouts.begin() + end * g);
  out.shard.offset = first * g;
  out.shard.total = groups * g;
  return out;
}

}  // namespace r1rl::distributed
