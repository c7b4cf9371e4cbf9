#include "lib/controller/weight_store.h"

#include <utility>

#include "lib/transport/sha256.h"

namespace r1rl::learner {

void WeightStore::Publish(int64_t version, std::string safetensors_bytes) {
  auto w = std::make_shared<Snapshot>();
  w->version = version;
  w->sha256 = transport::Sha256Hex(safetensors_bytes);
  w->bytes = std::move(safetensors_bytes);
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(w);
}

std::shared_ptr<const WeightStore::Snapshot> WeightStore::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

int64_t WeightStore::Stream(const Snapshot& w,
                            const std::function<bool(const v1::WeightsChunk&)>& write) {
  int64_t sent = 0;
  for (size_t offset = 0; offset == 0 || offset < w.bytes.size(); offset += kChunkBytes) {
    v1::WeightsChunk chunk;
    if (offset == 0) {
      chunk.set_policy_version(w.version);
      chunk.set_total_bytes(static_cast<int64_t>(w.bytes.size()));
      chunk.set_sha256(w.sha256);
      chunk.set_format("safetensors");
    }
    chunk.set_offset(static_cast<int64_t>(offset));
    chunk.set_data(w.bytes.substr(offset, kChunkBytes));
    if (!write(chunk)) return -1;
    sent += static_cast<int64_t>(chunk.data().size());
  }
  return sent;
}

}  // namespace r1rl::learner
