#include "lib/tokenizer/added_vocabulary.h"

#include <unicode/uchar.h>

#include <utility>

#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

// Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation,
// Join_Control.
bool IsWordChar(char32_t c) {
  const UChar32 u = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL)) {
    return true;
  }
  const int8_t type = u_charType(u);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_COMBINING_SPACING_MARK || type == U_DECIMAL_DIGIT_NUMBER ||
         type == U_CONNECTOR_PUNCTUATION;
}

bool IsWhiteSpace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

// The code point that ends `text` (valid UTF-8, non-empty).
char32_t LastCodePoint(std::string_view text, size_t* start) {
  size_t pos = text.size() - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  *start = pos;
  size_t cursor = pos;
  return NextCodePoint(text, &cursor);
}

bool EndsWithWord(std::string_view text) {
  size_t start;
  return !text.empty() && IsWordChar(LastCodePoint(text, &start));
}

bool StartsWithWord(std::string_view text) {
  size_t pos = 0;
  return !text.empty() && IsWordChar(NextCodePoint(text, &pos));
}

// Start of the whitespace run that ends `text`.
size_t TrailingSpaceStart(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start;
    if (!IsWhiteSpace(LastCodePoint(text.substr(0, end), &start))) break;
    end = start;
  }
  return end;
}

// Length of the whitespace run that starts `text`.
size_t LeadingSpaceLength(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!IsWhiteSpace(NextCodePoint(text, &next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::Insert(std::string_view pattern, int32_t token) {
  int32_t node = 0;
  for (unsigned char b : pattern) {
    auto it = nodes[node].children.find(b);
    if (it == nodes[node].children.end()) {
      nodes.emplace_back();
      it = nodes[node].children.emplace(b, static_cast<int32_t>(nodes.size() - 1)).first;
    }
    node = it->second;
  }
  nodes[node].token = token;  // A repeated pattern: the later token wins.
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
}

size_t AddedVocabulary::Trie::LongestAt(std::string_view text, size_t pos, int32_t* token) const {
  *token = -1;
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = nodes[node].children.find(static_cast<unsigned char>(text[i]));
    if (it == nodes[node].children.end()) break;
    node = it->second;
    if (nodes[node].token >= 0) {
      *token = nodes[node].token;
      best = i + 1 - pos;
    }
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens,
                                 const std::vector<std::string>& normalized_contents)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    by_id_[token.id] = i;
    by_content_[token.content] = i;
    if (token.normalized) {
      if (!normalized_contents[i].empty()) {
        normalized_trie_.Insert(normalized_contents[i], static_cast<int32_t>(i));
      }
    } else {
      raw_trie_.Insert(token.content, static_cast<int32_t>(i));
    }
  }
}

void AddedVocabulary::Split(std::string_view text, bool normalized_set,
                            std::vector<Segment>* out) const {
  const Trie& trie = normalized_set ? normalized_trie_ : raw_trie_;
  size_t emitted = 0;  // text[0, emitted) is in `out` already
  size_t pos = 0;
  while (pos < text.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t index;
    const size_t len = trie.LongestAt(text, pos, &index);
    if (len == 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t start = pos, stop = pos + len;
    pos = stop;  // Matching resumes after the match, whether or not it is kept.
    if (token.single_word &&
        (EndsWithWord(text.substr(0, start)) || StartsWithWord(text.substr(stop)))) {
      continue;
    }
    if (token.lstrip) start = std::max(TrailingSpaceStart(text.substr(0, start)), emitted);
    if (token.rstrip) stop += LeadingSpaceLength(text.substr(stop));
    if (start < emitted) continue;  // Overlaps whitespace a previous rstrip absorbed.
    if (emitted < start) out->push_back({std::string(text.substr(emitted, start - emitted)), {}});
    out->push_back({std::string(text.substr(start, stop - start)), token.id});
    emitted = stop;
    pos = std::max(pos, stop);
  }
  if (emitted < text.size()) out->push_back({std::string(text.substr(emitted)), {}});
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = by_content_.find(AsAbsl(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace r1rl::tokenizer
