#include "lib/broadcast/chunk_store.h"

namespace r1rl::broadcast {

void ChunkStore::Put(const std::string& hash, Chunk data) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = chunks_.emplace(hash, data);
  if (added) bytes_ += static_cast<int64_t>(data->size());
}

ChunkStore::Chunk ChunkStore::Get(const std::string& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chunks_.find(hash);
  return it == chunks_.end() ? nullptr : it->second;
}

void ChunkStore::Erase(const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chunks_.find(hash);
  if (it == chunks_.end()) return;
  bytes_ -= static_cast<int64_t>(it->second->size());
  chunks_.erase(it);
}

void ChunkStore::RetainOnly(const std::unordered_set<std::string>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (keep.count(it->first)) {
      ++it;
    } else {
      bytes_ -= static_cast<int64_t>(it->second->size());
      it = chunks_.erase(it);
    }
  }
}

size_t ChunkStore::chunks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chunks_.size();
}

int64_t ChunkStore::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace r1rl::broadcast
