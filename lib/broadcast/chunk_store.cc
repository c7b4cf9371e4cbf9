#include "lib/broadcast/chunk_store.h"

namespace r1rl::broadcast {

void ChunkStore::Put(const std::string& hash, Chunk data) {
  std::lock_guard<std::mutex> lock(mu_);
  chunks_.emplace(hash, std::move(data));
}

ChunkStore::Chunk ChunkStore::Get(const std::string& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chunks_.find(hash);
  return it == chunks_.end() ? nullptr : it->second;
}

void ChunkStore::Erase(const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  chunks_.erase(hash);
}

void ChunkStore::RetainOnly(const std::unordered_set<std::string>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    it = keep.count(it->first) ? std::next(it) : chunks_.erase(it);
  }
}

}  // namespace r1rl::broadcast
