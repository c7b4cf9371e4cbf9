// ParseTokenizerJson / LoadTokenizer: a tokenizer.json's sections turned into the parts of a
// BpeTokenizer. Every error names the source and the JSON field it is about.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/bpe_tokenizer.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer {
namespace {

using Json = nlohmann::json;

// Sequences nest; deeper than this is surely not a real file.
constexpr int kMaxNesting = 8;

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// The member `key` of object `obj`, or null when absent or JSON null.
const Json* Find(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<const Json*> Require(const Json& obj, const char* key, absl::string_view field,
                                    Json::value_t type) {
  const Json* value = Find(obj, key);
  if (value == nullptr) return FieldError(absl::StrCat(field, ".", key), "missing");
  if (value->type() != type) {
    return FieldError(
        absl::StrCat(field, ".", key),
        absl::StrCat("expected ", Json(type).type_name(), ", got ", value->type_name()));
  }
  return value;
}

absl::StatusOr<bool> OptionalBool(const Json& obj, const char* key, absl::string_view field,
                                  bool default_value) {
  const Json* value = Find(obj, key);
  if (value == nullptr) return default_value;
  if (!value->is_boolean()) return FieldError(absl::StrCat(field, ".", key), "expected boolean");
  return value->get<bool>();
}

absl::StatusOr<std::optional<std::string>> OptionalString(const Json& obj, const char* key,
                                                          absl::string_view field) {
  const Json* value = Find(obj, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return FieldError(absl::StrCat(field, ".", key), "expected string");
  return std::optional<std::string>(value->get<std::string>());
}

absl::StatusOr<std::string> TypeOf(const Json& obj, absl::string_view field) {
  if (!obj.is_object()) return FieldError(field, "expected object");
  ASSIGN_OR_RETURN(const Json* type, Require(obj, "type", field, Json::value_t::string));
  return type->get<std::string>();
}

absl::StatusOr<int32_t> ToId(const Json& value, absl::string_view field) {
  if (!value.is_number_integer()) return FieldError(field, "expected integer id");
  const int64_t id = value.get<int64_t>();
  if (id < 0 || id > INT32_MAX - 1) {
    return FieldError(field, absl::StrCat("id ", id, " is out of range"));
  }
  return static_cast<int32_t>(id);
}

// ---- model ----

absl::Status ParseMerges(const Json& merges, BpeModelOptions* options) {
  options->merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& merge = merges[i];
    if (merge.is_string()) {
      const std::string& line = merge.get_ref<const std::string&>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return FieldError(absl::StrCat("model.merges[", i, "]"),
                          absl::StrCat("\"", line, "\" is not two tokens split by one space"));
      }
      options->merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      options->merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      return FieldError(absl::StrCat("model.merges[", i, "]"),
                        "expected \"a b\" or [\"a\", \"b\"]");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BpeModel>> ParseModel(const Json& root) {
  ASSIGN_OR_RETURN(const Json* model, Require(root, "model", "tokenizer", Json::value_t::object));
  if (const Json* type = Find(*model, "type");
      type != nullptr && (!type->is_string() || type->get<std::string>() != "BPE")) {
    return FieldError("model.type",
                      absl::StrCat("unsupported model ", type->dump(), " (only \"BPE\" is)"));
  }
  BpeModelOptions options;
  ASSIGN_OR_RETURN(const Json* vocab, Require(*model, "vocab", "model", Json::value_t::object));
  options.vocab.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    ASSIGN_OR_RETURN(int32_t value, ToId(id, absl::StrCat("model.vocab[\"", token, "\"]")));
    options.vocab.emplace_back(token, value);
  }
  if (const Json* merges = Find(*model, "merges")) {
    if (!merges->is_array()) return FieldError("model.merges", "expected array");
    RETURN_IF_ERROR(ParseMerges(*merges, &options));
  }
  if (const Json* dropout = Find(*model, "dropout");
      dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    return FieldError("model.dropout", "BPE dropout is not supported");
  }
  ASSIGN_OR_RETURN(options.unk_token, OptionalString(*model, "unk_token", "model"));
  ASSIGN_OR_RETURN(std::optional<std::string> prefix,
                   OptionalString(*model, "continuing_subword_prefix", "model"));
  ASSIGN_OR_RETURN(std::optional<std::string> suffix,
                   OptionalString(*model, "end_of_word_suffix", "model"));
  options.continuing_subword_prefix = prefix.value_or("");
  options.end_of_word_suffix = suffix.value_or("");
  ASSIGN_OR_RETURN(options.fuse_unk, OptionalBool(*model, "fuse_unk", "model", false));
  ASSIGN_OR_RETURN(options.byte_fallback, OptionalBool(*model, "byte_fallback", "model", false));
  ASSIGN_OR_RETURN(options.ignore_merges, OptionalBool(*model, "ignore_merges", "model", false));
  return BpeModel::Create(std::move(options));
}

// ---- added tokens ----

absl::StatusOr<std::vector<AddedToken>> ParseAddedTokens(const Json& root) {
  std::vector<AddedToken> tokens;
  const Json* added = Find(root, "added_tokens");
  if (added == nullptr) return tokens;
  if (!added->is_array()) return FieldError("added_tokens", "expected array");
  for (size_t i = 0; i < added->size(); ++i) {
    const std::string field = absl::StrCat("added_tokens[", i, "]");
    const Json& entry = (*added)[i];
    if (!entry.is_object()) return FieldError(field, "expected object");
    AddedToken token;
    const Json* id = Find(entry, "id");
    if (id == nullptr) return FieldError(field + ".id", "missing");
    ASSIGN_OR_RETURN(token.id, ToId(*id, field + ".id"));
    ASSIGN_OR_RETURN(const Json* content, Require(entry, "content", field, Json::value_t::string));
    token.content = content->get<std::string>();
    ASSIGN_OR_RETURN(token.single_word, OptionalBool(entry, "single_word", field, false));
    ASSIGN_OR_RETURN(token.lstrip, OptionalBool(entry, "lstrip", field, false));
    ASSIGN_OR_RETURN(token.rstrip, OptionalBool(entry, "rstrip", field, false));
    ASSIGN_OR_RETURN(token.normalized, OptionalBool(entry, "normalized", field, true));
    ASSIGN_OR_RETURN(token.special, OptionalBool(entry, "special", field, false));
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// ---- normalizer ----

absl::Status CollectNormalizer(const Json& json, absl::string_view field, int depth,
                               std::vector<NormalizationForm>* forms) {
  if (depth > kMaxNesting) return FieldError(field, "nested too deeply");
  ASSIGN_OR_RETURN(std::string type, TypeOf(json, field));
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, Require(json, "normalizers", field, Json::value_t::array));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(CollectNormalizer((*list)[i], absl::StrCat(field, ".normalizers[", i, "]"),
                                        depth + 1, forms));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<NormalizationForm> form = ParseNormalizationForm(type);
  if (!form.ok()) return FieldError(absl::StrCat(field, ".type"), form.status().message());
  forms->push_back(*form);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const Json& root) {
  const Json* json = Find(root, "normalizer");
  if (json == nullptr) return std::unique_ptr<Normalizer>();
  std::vector<NormalizationForm> forms;
  RETURN_IF_ERROR(CollectNormalizer(*json, "normalizer", 0, &forms));
  if (forms.empty()) return std::unique_ptr<Normalizer>();
  return Normalizer::Create(std::move(forms));
}

// ---- pre-tokenizer ----

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizerAt(const Json& json,
                                                                  absl::string_view field,
                                                                  int depth);

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParseSplit(const Json& json,
                                                         absl::string_view field) {
  SplitOptions options;
  ASSIGN_OR_RETURN(const Json* pattern, Require(json, "pattern", field, Json::value_t::object));
  const std::string pattern_field = absl::StrCat(field, ".pattern");
  if (const Json* regex = Find(*pattern, "Regex"); regex != nullptr && regex->is_string()) {
    options.pattern = regex->get<std::string>();
  } else if (const Json* literal = Find(*pattern, "String");
             literal != nullptr && literal->is_string()) {
    options.pattern = literal->get<std::string>();
    options.pattern_is_regex = false;
  } else {
    return FieldError(pattern_field, "expected {\"Regex\": ...} or {\"String\": ...}");
  }
  ASSIGN_OR_RETURN(const Json* behavior, Require(json, "behavior", field, Json::value_t::string));
  absl::StatusOr<SplitBehavior> parsed = ParseSplitBehavior(behavior->get<std::string>());
  if (!parsed.ok()) return FieldError(absl::StrCat(field, ".behavior"), parsed.status().message());
  options.behavior = *parsed;
  ASSIGN_OR_RETURN(options.invert, OptionalBool(json, "invert", field, false));
  absl::StatusOr<std::unique_ptr<PreTokenizer>> split = CreateSplitPreTokenizer(options);
  if (!split.ok()) return FieldError(pattern_field, split.status().message());
  return split;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizerAt(const Json& json,
                                                                  absl::string_view field,
                                                                  int depth) {
  if (depth > kMaxNesting) return FieldError(field, "nested too deeply");
  ASSIGN_OR_RETURN(std::string type, TypeOf(json, field));
  if (type == "Split") return ParseSplit(json, field);
  if (type == "ByteLevel") {
    ByteLevelOptions options;
    ASSIGN_OR_RETURN(options.add_prefix_space,
                     OptionalBool(json, "add_prefix_space", field, false));
    ASSIGN_OR_RETURN(options.use_regex, OptionalBool(json, "use_regex", field, true));
    return CreateByteLevelPreTokenizer(options);
  }
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, Require(json, "pretokenizers", field, Json::value_t::array));
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> step,
                       ParsePreTokenizerAt(
                           (*list)[i], absl::StrCat(field, ".pretokenizers[", i, "]"), depth + 1));
      steps.push_back(std::move(step));
    }
    return CreateSequencePreTokenizer(std::move(steps));
  }
  return FieldError(absl::StrCat(field, ".type"),
                    absl::StrCat("unsupported pre_tokenizer type \"", type, "\""));
}

// ---- post-processor ----

absl::StatusOr<int32_t> PairId(const Json& json, const char* key, absl::string_view field) {
  const Json* pair = Find(json, key);
  if (pair == nullptr || !pair->is_array() || pair->size() != 2) {
    return FieldError(absl::StrCat(field, ".", key), "expected [token, id]");
  }
  return ToId((*pair)[1], absl::StrCat(field, ".", key, "[1]"));
}

absl::Status ParseTemplate(const Json& json, absl::string_view field, PostProcessor* out) {
  ASSIGN_OR_RETURN(const Json* single, Require(json, "single", field, Json::value_t::array));
  const Json* specials = Find(json, "special_tokens");
  std::vector<int32_t> prefix, suffix;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const std::string item_field = absl::StrCat(field, ".single[", i, "]");
    const Json& item = (*single)[i];
    if (!item.is_object()) return FieldError(item_field, "expected object");
    if (Find(item, "Sequence") != nullptr) {
      if (seen_sequence) return FieldError(item_field, "a second Sequence is not supported");
      seen_sequence = true;
      continue;
    }
    const Json* special = Find(item, "SpecialToken");
    if (special == nullptr || !special->is_object()) {
      return FieldError(item_field, "expected Sequence or SpecialToken");
    }
    ASSIGN_OR_RETURN(const Json* name,
                     Require(*special, "id", item_field + ".SpecialToken", Json::value_t::string));
    const Json* entry = specials != nullptr && specials->is_object()
                            ? Find(*specials, name->get_ref<const std::string&>().c_str())
                            : nullptr;
    const Json* ids = entry != nullptr && entry->is_object() ? Find(*entry, "ids") : nullptr;
    if (ids == nullptr || !ids->is_array()) {
      return FieldError(absl::StrCat(field, ".special_tokens"),
                        absl::StrCat("no ids for \"", name->get<std::string>(), "\""));
    }
    for (size_t k = 0; k < ids->size(); ++k) {
      ASSIGN_OR_RETURN(int32_t id,
                       ToId((*ids)[k], absl::StrCat(field, ".special_tokens.", name->dump())));
      (seen_sequence ? suffix : prefix).push_back(id);
    }
  }
  out->AddStep(std::move(prefix), std::move(suffix));
  return absl::OkStatus();
}

absl::Status ParsePostProcessorAt(const Json& json, absl::string_view field, int depth,
                                  PostProcessor* out) {
  if (depth > kMaxNesting) return FieldError(field, "nested too deeply");
  ASSIGN_OR_RETURN(std::string type, TypeOf(json, field));
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "TemplateProcessing") return ParseTemplate(json, field, out);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    ASSIGN_OR_RETURN(int32_t cls, PairId(json, "cls", field));
    ASSIGN_OR_RETURN(int32_t sep, PairId(json, "sep", field));
    out->AddStep({cls}, {sep});
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, Require(json, "processors", field, Json::value_t::array));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ParsePostProcessorAt((*list)[i], absl::StrCat(field, ".processors[", i, "]"),
                                           depth + 1, out));
    }
    return absl::OkStatus();
  }
  return FieldError(absl::StrCat(field, ".type"),
                    absl::StrCat("unsupported post_processor type \"", type, "\""));
}

// ---- decoder ----

absl::Status CollectDecoder(const Json& json, absl::string_view field, int depth,
                            std::vector<DecoderStep>* steps) {
  if (depth > kMaxNesting) return FieldError(field, "nested too deeply");
  ASSIGN_OR_RETURN(std::string type, TypeOf(json, field));
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, Require(json, "decoders", field, Json::value_t::array));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(
          CollectDecoder((*list)[i], absl::StrCat(field, ".decoders[", i, "]"), depth + 1, steps));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<DecoderStep> step = ParseDecoderStep(type);
  if (!step.ok()) return FieldError(absl::StrCat(field, ".type"), step.status().message());
  steps->push_back(*step);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseRoot(const Json& root) {
  if (!root.is_object()) return FieldError("tokenizer", "expected a JSON object");
  BpeTokenizerParts parts;
  ASSIGN_OR_RETURN(parts.model, ParseModel(root));
  ASSIGN_OR_RETURN(parts.added_tokens, ParseAddedTokens(root));
  ASSIGN_OR_RETURN(parts.normalizer, ParseNormalizer(root));
  if (const Json* pre = Find(root, "pre_tokenizer")) {
    ASSIGN_OR_RETURN(parts.pre_tokenizer, ParsePreTokenizerAt(*pre, "pre_tokenizer", 0));
  }
  if (const Json* post = Find(root, "post_processor")) {
    RETURN_IF_ERROR(ParsePostProcessorAt(*post, "post_processor", 0, &parts.post_processor));
  }
  if (const Json* decoder = Find(root, "decoder")) {
    std::vector<DecoderStep> steps;
    RETURN_IF_ERROR(CollectDecoder(*decoder, "decoder", 0, &steps));
    parts.decoder = Decoder(std::move(steps), /*present=*/true);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer, BpeTokenizer::Create(std::move(parts)));
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseTokenizerJson(std::string_view json_text,
                                                              const std::string& source) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> result;
  try {
    const Json root = Json::parse(json_text.begin(), json_text.end());
    result = ParseRoot(root);
  } catch (const Json::exception& e) {
    // Parse errors (and any type error a check above missed) end here.
    result = absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(source, ": ", result.status().message()));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open tokenizer file"));
  std::stringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return ParseTokenizerJson(buffer.str(), path);
}

}  // namespace r1rl::tokenizer
