#include "lib/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

absl::Status CheckAddedToken(const AddedToken& token, size_t index, const BpeModel& model,
                             absl::flat_hash_set<int32_t>* ids,
                             absl::flat_hash_set<std::string>* contents) {
  const std::string field = absl::StrCat("added_tokens[", index, "]");
  if (token.content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".content: is empty"));
  }
  if (token.id < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".id: ", token.id, " is negative"));
  }
  if (const std::string* in_vocab = model.IdToToken(token.id);
      in_vocab != nullptr && *in_vocab != token.content) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".id: ", token.id, " is \"", *in_vocab,
                                                   "\" in model.vocab, not \"", token.content,
                                                   "\""));
  }
  if (std::optional<int32_t> vocab_id = model.TokenToId(token.content);
      vocab_id.has_value() && *vocab_id != token.id) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".content: \"", token.content,
                                                   "\" has id ", *vocab_id, " in model.vocab, not ",
                                                   token.id));
  }
  if (!ids->insert(token.id).second) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".id: ", token.id, " is used by another added token"));
  }
  if (!contents->insert(token.content).second) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".content: \"", token.content, "\" is used by another added token"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(BpeTokenizerParts parts) {
  if (parts.model == nullptr) return absl::InvalidArgumentError("model: missing");
  absl::flat_hash_set<int32_t> ids;
  absl::flat_hash_set<std::string> contents;
  int32_t vocab_size = parts.model->vocab_size();
  std::vector<std::string> normalized_contents;
  for (size_t i = 0; i < parts.added_tokens.size(); ++i) {
    const AddedToken& token = parts.added_tokens[i];
    absl::Status status = CheckAddedToken(token, i, *parts.model, &ids, &contents);
    if (!status.ok()) return status;
    if (token.id == INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("added_tokens[", i, "].id: too large"));
    }
    vocab_size = std::max(vocab_size, token.id + 1);
    normalized_contents.push_back(parts.normalizer != nullptr && token.normalized
                                      ? parts.normalizer->Normalize(token.content)
                                      : token.content);
  }
  auto added = std::make_unique<AddedVocabulary>(parts.added_tokens, normalized_contents);
  for (int32_t id : parts.post_processor.added_ids()) {
    if (added->FindById(id) == nullptr && parts.model->IdToToken(id) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("post_processor: id ", id, " is not a token"));
    }
  }
  return std::unique_ptr<BpeTokenizer>(
      new BpeTokenizer(std::move(parts), std::move(added), vocab_size));
}

void BpeTokenizer::EncodeSegment(std::string text, std::vector<int32_t>* ids) const {
  if (parts_.pre_tokenizer == nullptr) {
    parts_.model->Tokenize(text, ids);
    return;
  }
  std::vector<std::string> pieces;
  pieces.push_back(std::move(text));
  parts_.pre_tokenizer->Apply(&pieces);
  for (const std::string& piece : pieces) parts_.model->Tokenize(piece, ids);
}

std::vector<int32_t> BpeTokenizer::EncodeNoSpecial(std::string_view input) const {
  const std::string text = IsValidUtf8(input) ? std::string(input) : Utf8Lossy(input);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::vector<Segment> raw;
  added_->Split(text, /*normalized_set=*/false, &raw);
  std::vector<Segment> normalized;
  for (Segment& segment : raw) {
    if (segment.id.has_value()) {
      ids.push_back(*segment.id);
      continue;
    }
    std::string norm = parts_.normalizer != nullptr ? parts_.normalizer->Normalize(segment.text)
                                                    : std::move(segment.text);
    normalized.clear();
    added_->Split(norm, /*normalized_set=*/true, &normalized);
    for (Segment& piece : normalized) {
      if (piece.id.has_value()) {
        ids.push_back(*piece.id);
      } else {
        EncodeSegment(std::move(piece.text), &ids);
      }
    }
  }
  return ids;
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view text) const {
  return parts_.post_processor.Apply(EncodeNoSpecial(text));
}

absl::StatusOr<std::string> BpeTokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (const AddedToken* added = added_->FindById(ids[i])) {
      tokens.push_back(added->content);
    } else if (const std::string* token = parts_.model->IdToToken(ids[i])) {
      tokens.push_back(*token);
    } else {
      return absl::OutOfRangeError(absl::StrCat("Decode: id ", ids[i], " at position ", i,
                                                " is not a token (vocab_size ", vocab_size_, ")"));
    }
  }
  return parts_.decoder.Decode(std::move(tokens));
}

std::optional<int32_t> BpeTokenizer::TokenToId(std::string_view token) const {
  if (const AddedToken* added = added_->FindByContent(token)) return added->id;
  return parts_.model->TokenToId(token);
}

std::optional<std::string> BpeTokenizer::IdToToken(int32_t id) const {
  if (const AddedToken* added = added_->FindById(id)) return added->content;
  if (const std::string* token = parts_.model->IdToToken(id)) return *token;
  return std::nullopt;
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  const AddedToken* added = added_->FindById(id);
  return added != nullptr && added->special;
}

}  // namespace r1rl::tokenizer
