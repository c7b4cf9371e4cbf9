#include "lib/tokenizer/char_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

using Json = nlohmann::ordered_json;

// The code points of valid UTF-8 `text`, each as its UTF-8 string.
std::vector<std::string> SplitCharacters(std::string_view text) {
  std::vector<std::string> chars;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    NextCodePoint(text, &pos);
    chars.emplace_back(text.substr(start, pos - start));
  }
  return chars;
}

absl::Status Validate(const CharTokenizerOptions& options) {
  if (!IsValidUtf8(options.characters)) {
    return absl::InvalidArgumentError("characters: not valid UTF-8");
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& token : options.special_tokens) {
    if (token.empty() || !IsValidUtf8(token)) {
      return absl::InvalidArgumentError("special_tokens: empty or not UTF-8");
    }
    if (!seen.insert(token).second) {
      return absl::InvalidArgumentError(absl::StrCat("special_tokens: \"", token, "\" repeats"));
    }
  }
  for (const std::string& ch : SplitCharacters(options.characters)) {
    if (!seen.insert(ch).second) {
      return absl::InvalidArgumentError(absl::StrCat("characters: \"", ch, "\" repeats"));
    }
  }
  if (!options.unk_token.empty() &&
      std::find(options.special_tokens.begin(), options.special_tokens.end(), options.unk_token) ==
          options.special_tokens.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unk_token: \"", options.unk_token, "\" is not a special token"));
  }
  return absl::OkStatus();
}

std::string BuildJson(const CharTokenizerOptions& options) {
  Json vocab = Json::object();
  Json added = Json::array();
  int32_t id = 0;
  for (const std::string& token : options.special_tokens) {
    vocab[token] = id;
    added.push_back({{"id", id},
                     {"content", token},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
    ++id;
  }
  for (const std::string& ch : SplitCharacters(options.characters)) vocab[ch] = id++;
  Json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", options.unk_token.empty() ? Json(nullptr) : Json(options.unk_token)},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", Json::array()}};
  Json root = {{"version", "1.0"},          {"truncation", nullptr},
               {"padding", nullptr},        {"added_tokens", std::move(added)},
               {"normalizer", nullptr},     {"pre_tokenizer", nullptr},
               {"post_processor", nullptr}, {"decoder", {{"type", "Fuse"}}},
               {"model", std::move(model)}};
  return root.dump(2);
}

// Options recovered from a parsed file: added tokens by id, then the other vocabulary
// entries by id.
absl::StatusOr<CharTokenizerOptions> OptionsFromJson(const Json& root) {
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    return absl::InvalidArgumentError("model: missing");
  }
  const Json& model = root["model"];
  if (model.contains("merges") && !model["merges"].empty()) {
    return absl::InvalidArgumentError("model.merges: a character tokenizer has none");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return absl::InvalidArgumentError("model.vocab: missing");
  }
  std::vector<std::pair<int64_t, std::string>> by_id;
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) return absl::InvalidArgumentError("model.vocab: bad id");
    by_id.emplace_back(id.get<int64_t>(), token);
  }
  std::sort(by_id.begin(), by_id.end());
  absl::flat_hash_set<std::string> specials;
  CharTokenizerOptions options;
  options.special_tokens.clear();
  options.characters.clear();
  if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
    for (const Json& token : root["added_tokens"]) {
      if (token.is_object() && token.contains("content") && token["content"].is_string()) {
        specials.insert(token["content"].get<std::string>());
      }
    }
  }
  for (const auto& [id, token] : by_id) {
    if (specials.contains(token)) {
      options.special_tokens.push_back(token);
    } else if (SplitCharacters(token).size() == 1) {
      options.characters += token;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: \"", token, "\" is neither a character nor special"));
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    options.unk_token = model["unk_token"].get<std::string>();
  }
  return options;
}

}  // namespace

std::string DefaultCharTokenizerCharacters() {
  std::string chars = "\t\n";
  for (char c = ' '; c <= '~'; ++c) chars.push_back(c);
  return chars;
}

absl::StatusOr<std::unique_ptr<CharTokenizer>> CharTokenizer::Create(CharTokenizerOptions options) {
  RETURN_IF_ERROR(Validate(options));
  std::string json = BuildJson(options);
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> impl, ParseTokenizerJson(json, "CharTokenizer"));
  return std::unique_ptr<CharTokenizer>(
      new CharTokenizer(std::move(options), std::move(json), std::move(impl)));
}

std::string CharTokenizer::ToJson() const { return json_; }

absl::StatusOr<std::unique_ptr<CharTokenizer>> CharTokenizer::FromJson(std::string_view json,
                                                                       const std::string& source) {
  absl::StatusOr<CharTokenizerOptions> options;
  try {
    options = OptionsFromJson(Json::parse(json.begin(), json.end()));
  } catch (const Json::exception& e) {
    options = absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!options.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", options.status().message()));
  }
  absl::StatusOr<std::unique_ptr<CharTokenizer>> tokenizer = Create(*std::move(options));
  if (!tokenizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", tokenizer.status().message()));
  }
  // Same ids as the file: every file token must map to the id the file gives it.
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> file_tokenizer, ParseTokenizerJson(json, source));
  for (int32_t id = 0; id < (*tokenizer)->vocab_size(); ++id) {
    if (file_tokenizer->IdToToken(id) != (*tokenizer)->IdToToken(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ids are not in character-tokenizer order at id ", id));
    }
  }
  return tokenizer;
}

absl::Status CharTokenizer::Save(const std::string& path) const {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open for writing"));
  file << json_;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CharTokenizer>> CharTokenizer::Load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open tokenizer file"));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return FromJson(buffer.str(), path);
}

std::vector<int32_t> CharTokenizer::Encode(std::string_view text) const {
  return impl_->Encode(text);
}
std::vector<int32_t> CharTokenizer::EncodeNoSpecial(std::string_view text) const {
  return impl_->EncodeNoSpecial(text);
}
absl::StatusOr<std::string> CharTokenizer::Decode(absl::Span<const int32_t> ids) const {
  return impl_->Decode(ids);
}
int32_t CharTokenizer::vocab_size() const { return impl_->vocab_size(); }
std::optional<int32_t> CharTokenizer::TokenToId(std::string_view token) const {
  return impl_->TokenToId(token);
}
std::optional<std::string> CharTokenizer::IdToToken(int32_t id) const {
  return impl_->IdToToken(id);
}
bool CharTokenizer::IsSpecial(int32_t id) const { return impl_->IsSpecial(id); }

}  // namespace r1rl::tokenizer
