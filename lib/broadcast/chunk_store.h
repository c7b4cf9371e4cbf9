// Chunks by content: XXH3-128 -> bytes, shared by every version that contains them. A holder
// (the service, a receiver) serves from it; a receiver skips fetching what it already has.
//
//   store.Put(hash, std::make_shared<const std::string>(bytes));
//   if (auto c = store.Get(hash)) Send(*c);
//   store.RetainOnly(hashes_of_kept_versions);
//
// Thread-safety: all methods are thread-safe; a chunk handed out stays valid while held.
#ifndef R1RL_LIB_BROADCAST_CHUNK_STORE_H_
#define R1RL_LIB_BROADCAST_CHUNK_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace r1rl::broadcast {

class ChunkStore {
 public:
  using Chunk = std::shared_ptr<const std::string>;

  void Put(const std::string& hash, Chunk data);
  Chunk Get(const std::string& hash) const;  // null when absent
  bool Has(const std::string& hash) const { return Get(hash) != nullptr; }
  void Erase(const std::string& hash);
  // Drops every chunk whose hash is not in `keep`.
  void RetainOnly(const std::unordered_set<std::string>& keep);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, Chunk> chunks_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_CHUNK_STORE_H_
