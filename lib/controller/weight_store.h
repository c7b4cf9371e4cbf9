// The policy's published weights as rollout workers fetch them: the newest version's
// safetensors bytes and their SHA-256. Publishing swaps in a new snapshot; a reader keeps
// the one it took (a shared_ptr) while newer versions are published, so a stream in flight
// is never torn. This is the seam the parameter-broadcast service takes over (issue 17):
// the learner publishes once, the store serves many readers.
//
//   store.Publish(step, std::move(bytes));
//   auto w = store.Latest();   // null before the first Publish
//   WeightStore::Stream(*w, [&](const v1::WeightsChunk& c) { return writer->Write(c); });
//
// Thread-safety: all methods are thread-safe.
#ifndef R1RL_LIB_CONTROLLER_WEIGHT_STORE_H_
#define R1RL_LIB_CONTROLLER_WEIGHT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "r1rl/v1/controller.pb.h"

namespace r1rl::learner {

class WeightStore {
 public:
  struct Snapshot {
    int64_t version = -1;
    std::string bytes;   // one safetensors file
    std::string sha256;  // hex, of `bytes`
  };
  static constexpr size_t kChunkBytes = size_t{1} << 20;

  void Publish(int64_t version, std::string safetensors_bytes);
  std::shared_ptr<const Snapshot> Latest() const;
  bool has_weights() const { return Latest() != nullptr; }

  // Writes `w` as chunks of kChunkBytes (the first carries version, size, SHA-256 and format;
  // an empty file is one chunk). Returns the bytes written, or -1 when `write` said stop.
  static int64_t Stream(const Snapshot& w,
                        const std::function<bool(const v1::WeightsChunk&)>& write);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> latest_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_WEIGHT_STORE_H_
