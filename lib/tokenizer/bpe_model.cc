#include "lib/tokenizer/bpe_model.h"

#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

struct Symbol {
  int32_t id;
  int32_t prev;  // index of the previous live symbol, -1 for none
  int32_t next;  // index of the next live symbol, -1 for none
  size_t len;    // bytes of the word it covers; 0 once merged into its left neighbour
};

struct QueuedMerge {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  // std::priority_queue pops the largest: make that the lowest rank, then lowest position.
  bool operator<(const QueuedMerge& other) const {
    if (rank != other.rank) return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(BpeModelOptions options) {
  std::unique_ptr<BpeModel> model(new BpeModel(std::move(options)));
  absl::Status status = model->Build();
  if (!status.ok()) return status;
  return model;
}

absl::Status BpeModel::Build() {
  const size_t n = options_.vocab.size();
  id_to_token_.assign(n, std::string());
  std::vector<bool> seen(n, false);
  token_to_id_.reserve(n);
  for (const auto& [token, id] : options_.vocab) {
    if (id < 0 || static_cast<size_t>(id) >= n) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: id ", id, " of token \"", token,
                                                     "\" is out of range [0, ", n, ")"));
    }
    if (seen[id]) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: id ", id, " is given to both \"",
                                                     id_to_token_[id], "\" and \"", token, "\""));
    }
    if (!token_to_id_.emplace(token, id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: token \"", token, "\" appears twice"));
    }
    seen[id] = true;
    id_to_token_[id] = token;
  }
  options_.vocab.clear();
  options_.vocab.shrink_to_fit();

  const std::string& prefix = options_.continuing_subword_prefix;
  merges_.reserve(options_.merges.size());
  for (size_t rank = 0; rank < options_.merges.size(); ++rank) {
    const auto& [left, right] = options_.merges[rank];
    const std::string field = absl::StrCat("model.merges[", rank, "]");
    auto left_it = token_to_id_.find(left);
    auto right_it = token_to_id_.find(right);
    if (left_it == token_to_id_.end() || right_it == token_to_id_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": token \"",
                                                     left_it == token_to_id_.end() ? left : right,
                                                     "\" is not in model.vocab"));
    }
    if (right.compare(0, prefix.size(), prefix) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": token \"", right, "\" lacks the continuing_subword_prefix"));
    }
    const std::string merged = absl::StrCat(left, right.substr(prefix.size()));
    auto merged_it = token_to_id_.find(merged);
    if (merged_it == token_to_id_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": merged token \"", merged, "\" is not in model.vocab"));
    }
    // A repeated pair keeps its last rank, as Hugging Face's map collection does.
    merges_[PairKey(left_it->second, right_it->second)] =
        Merge{static_cast<int32_t>(rank), merged_it->second};
  }
  options_.merges.clear();
  options_.merges.shrink_to_fit();

  if (options_.unk_token.has_value()) {
    std::optional<int32_t> unk = TokenToId(*options_.unk_token);
    if (!unk.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.unk_token: \"", *options_.unk_token, "\" is not in model.vocab"));
    }
    unk_id_ = unk;
  }
  return absl::OkStatus();
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = token_to_id_.find(AsAbsl(token));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return &id_to_token_[id];
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    auto it = token_to_id_.find(AsAbsl(word));
    if (it != token_to_id_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  const bool cacheable =
      options_.cache_capacity > 0 && word.size() <= options_.max_cached_word_bytes;
  if (cacheable) {
    absl::ReaderMutexLock lock(&cache_mu_);
    auto it = cache_.find(AsAbsl(word));
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids->size();
  MergeWord(word, ids);
  if (cacheable) {
    std::vector<int32_t> value(ids->begin() + first, ids->end());
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() >= options_.cache_capacity) cache_.clear();
    cache_.emplace(word, std::move(value));
  }
}

void BpeModel::InitialSymbols(std::string_view word,
                              std::vector<std::pair<int32_t, size_t>>* symbols) const {
  std::optional<std::pair<int32_t, size_t>> pending_unk;
  size_t pos = 0;
  std::string lookup;
  while (pos < word.size()) {
    const size_t start = pos;
    NextCodePoint(word, &pos);
    const std::string_view ch = word.substr(start, pos - start);
    lookup.assign(ch);
    if (start > 0) lookup.insert(0, options_.continuing_subword_prefix);
    if (pos == word.size()) lookup.append(options_.end_of_word_suffix);
    auto it = token_to_id_.find(lookup);
    if (it != token_to_id_.end()) {
      if (pending_unk.has_value()) {
        symbols->push_back(*pending_unk);
        pending_unk.reset();
      }
      symbols->emplace_back(it->second, ch.size());
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> byte_ids;
      for (unsigned char b : lookup) {
        auto byte_it = token_to_id_.find(absl::StrFormat("<0x%02X>", b));
        if (byte_it == token_to_id_.end()) break;
        byte_ids.push_back(byte_it->second);
      }
      if (byte_ids.size() == lookup.size()) {
        // Like Hugging Face, a pending unk is not flushed before byte tokens.
        for (int32_t id : byte_ids) symbols->emplace_back(id, 1);
        continue;
      }
    }
    if (!unk_id_.has_value()) continue;  // No unk token: the character is dropped.
    if (pending_unk.has_value() && options_.fuse_unk) {
      pending_unk->second += ch.size();
    } else {
      if (pending_unk.has_value()) symbols->push_back(*pending_unk);
      pending_unk = std::make_pair(*unk_id_, ch.size());
    }
  }
  if (pending_unk.has_value()) symbols->push_back(*pending_unk);
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  std::vector<std::pair<int32_t, size_t>> initial;
  initial.reserve(word.size());
  InitialSymbols(word, &initial);
  const int32_t n = static_cast<int32_t>(initial.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = Symbol{initial[i].first, i - 1, i + 1 < n ? i + 1 : -1, initial[i].second};
  }
  std::vector<QueuedMerge> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<QueuedMerge> queue(std::less<QueuedMerge>(), std::move(heap_storage));
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = FindMerge(symbols[i].id, symbols[i + 1].id)) {
      queue.push({m->rank, i, m->new_id});
    }
  }
  while (!queue.empty()) {
    const QueuedMerge top = queue.top();
    queue.pop();
    Symbol& current = symbols[top.pos];
    if (current.len == 0 || current.next == -1) continue;
    const int32_t right_pos = current.next;
    Symbol& right = symbols[right_pos];
    // Entries go stale when a neighbour merged since they were queued.
    const Merge* still = FindMerge(current.id, right.id);
    if (still == nullptr || still->new_id != top.new_id) continue;
    current.id = top.new_id;
    current.len += right.len;
    current.next = right.next;
    right.len = 0;
    if (current.next != -1) symbols[current.next].prev = top.pos;
    if (current.prev != -1) {
      if (const Merge* m = FindMerge(symbols[current.prev].id, current.id)) {
        queue.push({m->rank, current.prev, m->new_id});
      }
    }
    if (current.next != -1) {
      if (const Merge* m = FindMerge(current.id, symbols[current.next].id)) {
        queue.push({m->rank, top.pos, m->new_id});
      }
    }
  }
  for (const Symbol& s : symbols) {
    if (s.len != 0) ids->push_back(s.id);
  }
}

}  // namespace r1rl::tokenizer
