// The BPE model of a tokenizer.json: vocabulary, merges by rank, and a bounded cache of
// word -> ids.
//
// A word (one pre-token, already in the vocabulary's spelling, e.g. byte-level characters)
// starts as one symbol per character; the adjacent pair with the lowest merge rank
// (leftmost on ties) is merged until no pair has a merge -- Hugging Face's BPE::merge_word,
// including `ignore_merges`, `unk_token`, `fuse_unk`, `byte_fallback`,
// `continuing_subword_prefix` and `end_of_word_suffix`.
//
// Thread-safety: immutable after Create except for the cache, which is guarded by a mutex;
// all const methods may be called concurrently.
#ifndef R1RL_LIB_TOKENIZER_BPE_MODEL_H_
#define R1RL_LIB_TOKENIZER_BPE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace r1rl::tokenizer {

struct BpeModelOptions {
  // Token -> id. Ids must be unique and exactly cover [0, vocab.size()).
  std::vector<std::pair<std::string, int32_t>> vocab;
  // Merges in rank order (rank = index). Both tokens and their concatenation (minus the
  // right token's continuing_subword_prefix) must be in `vocab`.
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> unk_token;  // emitted for characters not in the vocab; must be in it
  bool fuse_unk = false;                 // consecutive unknown characters give one unk
  bool byte_fallback = false;            // unknown characters become "<0xXX>" byte tokens
  bool ignore_merges = false;            // a word that is itself in the vocab is emitted whole
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  // Words cached (word -> ids); the cache is emptied when full. 0 disables caching.
  size_t cache_capacity = 1 << 16;
  // Words longer than this (bytes) are not cached.
  size_t max_cached_word_bytes = 256;
};

class BpeModel {
 public:
  // Error (InvalidArgument), naming the field ("model.vocab", "model.merges[i]", ...):
  // duplicated or out-of-range id, duplicated token, merge naming a token not in the vocab,
  // merge whose result is not in the vocab, unk_token not in the vocab.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(BpeModelOptions options);

  // Appends the ids of `word` (valid UTF-8) to `ids`.
  void Tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token of `id`, or null when out of range. Points into this model.
  const std::string* IdToToken(int32_t id) const;
  int32_t vocab_size() const { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };

  explicit BpeModel(BpeModelOptions options) : options_(std::move(options)) {}
  absl::Status Build();
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;
  // Initial symbols (id, byte length) of `word` before any merge.
  void InitialSymbols(std::string_view word,
                      std::vector<std::pair<int32_t, size_t>>* symbols) const;
  const Merge* FindMerge(int32_t left, int32_t right) const;

  BpeModelOptions options_;
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  absl::flat_hash_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::optional<int32_t> unk_id_;

  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace r1rl::tokenizer

#endif  // R1RL_LIB_TOKENIZER_BPE_MODEL_H_
