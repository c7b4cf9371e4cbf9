// KVCache: the keys and values of every layer for a batch of sequences, preallocated to
// a fixed capacity so that decoding appends in place.
//
// Layout per layer: (B, n_kv_heads, capacity, head_dim). All sequences share one write
// cursor `length`: prompts are left-padded so that each step appends at the same index,
// and `key_valid` masks the padding.
//
// Thread-safety: none; owned by one generation loop.
#ifndef R1RL_LIB_MODEL_KV_CACHE_H_
#define R1RL_LIB_MODEL_KV_CACHE_H_

#include <torch/torch.h>

#include <vector>

namespace r1rl::model {

struct KVCache {
  std::vector<torch::Tensor> keys;    // per layer (B, n_kv, capacity, head_dim)
  std::vector<torch::Tensor> values;  // per layer (B, n_kv, capacity, head_dim)
  torch::Tensor key_valid;            // (B, capacity) bool: slot holds a real token
  int64_t length = 0;                 // slots written so far

  int64_t capacity() const { return key_valid.size(1); }
  int64_t batch() const { return key_valid.size(0); }

  // Keeps only the rows in `rows` (int64 indices), e.g. after sequences finish.
  void SelectRows(const torch::Tensor& rows) {
    for (auto& k : keys) k = k.index_select(0, rows);
    for (auto& v : values) v = v.index_select(0, rows);
    key_valid = key_valid.index_select(0, rows);
  }
};

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_KV_CACHE_H_
