#include "lib/model/model_config.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1rl::model {
namespace {

using nlohmann::json;

// What ModelConfigToJson claims to be written by: the transformers release whose
// LlamaConfig / Qwen2Config fields it writes.
constexpr char kTransformersVersion[] = "4.46.0";
// Longest piece of an offending value quoted in an error message.
constexpr size_t kMaxQuotedValueChars = 80;

// Defaults that differ between the two model types, as transformers has them.
struct TypeDefaults {
  const char* architecture;
  int64_t max_position_embeddings;
  int64_t bos_token_id;                // -1: none
  std::vector<int64_t> eos_token_ids;  // empty: none
};

std::optional<TypeDefaults> DefaultsFor(const std::string& model_type) {
  if (model_type == "llama") return TypeDefaults{"LlamaForCausalLM", 2048, 1, {2}};
  if (model_type == "qwen2") return TypeDefaults{"Qwen2ForCausalLM", 32768, -1, {}};
  return std::nullopt;
}

std::string Describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxQuotedValueChars) text = text.substr(0, kMaxQuotedValueChars) + "...";
  return text;
}

// Typed, validated access to the fields of one JSON object. A field that is absent
// or null reads as nullopt, as transformers treats a null like a missing key.
class Fields {
 public:
  Fields(const json& object, const std::string& source, std::string prefix = "")
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  // InvalidArgument naming the source, the field and its value.
  absl::Status Error(const std::string& name, const json& value, std::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": \"", prefix_, name, "\" = ", Describe(value), ": ", std::string(problem)));
  }
  absl::Status Missing(const std::string& name) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": required field \"", prefix_, name, "\" is missing"));
  }

  const json* Get(const std::string& name) const {
    auto it = object_.find(name);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  absl::StatusOr<std::optional<int64_t>> Int(const std::string& name) const {
    const json* v = Get(name);
    if (v == nullptr) return std::optional<int64_t>();
    if (!v->is_number_integer() ||
        (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
      return Error(name, *v, "expected an integer");
    }
    return std::optional<int64_t>(v->get<int64_t>());
  }
  absl::StatusOr<std::optional<int64_t>> PositiveInt(const std::string& name) const {
    ASSIGN_OR_RETURN(std::optional<int64_t> v, Int(name));
    if (v && *v <= 0) return Error(name, *Get(name), "must be positive");
    return v;
  }
  absl::StatusOr<int64_t> RequiredPositiveInt(const std::string& name) const {
    ASSIGN_OR_RETURN(std::optional<int64_t> v, PositiveInt(name));
    if (!v) return Missing(name);
    return *v;
  }
  absl::StatusOr<std::optional<double>> PositiveNumber(const std::string& name) const {
    const json* v = Get(name);
    if (v == nullptr) return std::optional<double>();
    if (!v->is_number()) return Error(name, *v, "expected a number");
    const double d = v->get<double>();
    if (!(d > 0)) return Error(name, *v, "must be positive");
    return std::optional<double>(d);
  }
  absl::StatusOr<std::optional<bool>> Bool(const std::string& name) const {
    const json* v = Get(name);
    if (v == nullptr) return std::optional<bool>();
    if (!v->is_boolean()) return Error(name, *v, "expected true or false");
    return std::optional<bool>(v->get<bool>());
  }
  absl::StatusOr<std::optional<std::string>> String(const std::string& name) const {
    const json* v = Get(name);
    if (v == nullptr) return std::optional<std::string>();
    if (!v->is_string()) return Error(name, *v, "expected a string");
    return std::optional<std::string>(v->get<std::string>());
  }
  // An int, a list of ints, or absent (empty).
  absl::StatusOr<std::vector<int64_t>> IntOrIntList(const std::string& name) const {
    const json* v = Get(name);
    if (v == nullptr) return std::vector<int64_t>();
    if (v->is_number_integer()) return std::vector<int64_t>{v->get<int64_t>()};
    std::vector<int64_t> out;
    if (v->is_array()) {
      for (const json& item : *v) {
        if (!item.is_number_integer()) break;
        out.push_back(item.get<int64_t>());
      }
      if (out.size() == v->size()) return out;
    }
    return Error(name, *v, "expected an integer or a list of integers");
  }

 private:
  const json& object_;
  const std::string& source_;
  std::string prefix_;
};

absl::StatusOr<RopeScaling> ParseRopeScaling(const json& config, const std::string& source) {
  Fields top(config, source);
  // transformers < 5 writes "rope_scaling"; transformers 5 writes "rope_parameters" (which
  // also carries rope_theta and says rope_type "default" when there is no scaling).
  const char* key = top.Get("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const json* value = top.Get(key);
  if (value == nullptr) return RopeScaling{};
  if (!value->is_object()) return top.Error(key, *value, "expected an object or null");
  Fields fields(*value, source, std::string(key) + ".");
  ASSIGN_OR_RETURN(std::optional<std::string> type, fields.String("rope_type"));
  const char* type_key = "rope_type";
  if (!type) {  // older configs spell it "type"
    ASSIGN_OR_RETURN(type, fields.String("type"));
    type_key = "type";
  }
  if (!type) return fields.Missing("rope_type");
  if (*type == "default") return RopeScaling{};  // transformers' name for no scaling
  if (*type != "llama3") {
    return fields.Error(type_key, *type, "unsupported rope scaling type (supported: llama3)");
  }
  RopeScaling scaling;
  scaling.type = "llama3";
  for (auto [key, out] : {std::pair<const char*, double*>{"factor", &scaling.factor},
                          {"low_freq_factor", &scaling.low_freq_factor},
                          {"high_freq_factor", &scaling.high_freq_factor}}) {
    ASSIGN_OR_RETURN(std::optional<double> v, fields.PositiveNumber(key));
    if (!v) return fields.Missing(key);
    *out = *v;
  }
  ASSIGN_OR_RETURN(scaling.original_max_position_embeddings,
                   fields.RequiredPositiveInt("original_max_position_embeddings"));
  return scaling;
}

// Rejects values of fields the model code does not implement.
absl::Status CheckUnsupported(const Fields& fields) {
  ASSIGN_OR_RETURN(std::optional<std::string> act, fields.String("hidden_act"));
  if (act && *act != "silu") return fields.Error("hidden_act", *act, "only \"silu\" is supported");
  for (const char* key : {"mlp_bias", "use_sliding_window"}) {
    ASSIGN_OR_RETURN(std::optional<bool> on, fields.Bool(key));
    if (on.value_or(false)) return fields.Error(key, true, "not supported");
  }
  return absl::OkStatus();
}

absl::Status ParseShape(const Fields& fields, ModelConfig* c) {
  ASSIGN_OR_RETURN(c->vocab_size, fields.RequiredPositiveInt("vocab_size"));
  ASSIGN_OR_RETURN(c->hidden_size, fields.RequiredPositiveInt("hidden_size"));
  ASSIGN_OR_RETURN(c->intermediate_size, fields.RequiredPositiveInt("intermediate_size"));
  ASSIGN_OR_RETURN(c->num_hidden_layers, fields.RequiredPositiveInt("num_hidden_layers"));
  ASSIGN_OR_RETURN(c->num_attention_heads, fields.RequiredPositiveInt("num_attention_heads"));
  ASSIGN_OR_RETURN(std::optional<int64_t> kv, fields.PositiveInt("num_key_value_heads"));
  c->num_key_value_heads = kv.value_or(c->num_attention_heads);
  if (c->num_attention_heads % c->num_key_value_heads != 0) {
    return fields.Error(
        "num_key_value_heads", c->num_key_value_heads,
        absl::StrCat("does not divide num_attention_heads = ", c->num_attention_heads));
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> head_dim, fields.PositiveInt("head_dim"));
  if (!head_dim && c->hidden_size % c->num_attention_heads != 0) {
    return fields.Error("hidden_size", c->hidden_size,
                        absl::StrCat("is not divisible by num_attention_heads = ",
                                     c->num_attention_heads, " and head_dim is not given"));
  }
  c->head_dim = head_dim.value_or(c->hidden_size / c->num_attention_heads);
  return absl::OkStatus();
}

absl::Status ParseRest(const json& j, const Fields& fields, const TypeDefaults& defaults,
                       const std::string& source, ModelConfig* c) {
  ASSIGN_OR_RETURN(std::optional<int64_t> max_pos, fields.PositiveInt("max_position_embeddings"));
  c->max_position_embeddings = max_pos.value_or(defaults.max_position_embeddings);
  ASSIGN_OR_RETURN(std::optional<double> eps, fields.PositiveNumber("rms_norm_eps"));
  c->rms_norm_eps = eps.value_or(1e-6);
  ASSIGN_OR_RETURN(std::optional<double> theta, fields.PositiveNumber("rope_theta"));
  if (!theta && fields.Get("rope_parameters") && fields.Get("rope_parameters")->is_object()) {
    Fields rope(*fields.Get("rope_parameters"), source, "rope_parameters.");
    ASSIGN_OR_RETURN(theta, rope.PositiveNumber("rope_theta"));
  }
  c->rope_theta = theta.value_or(10000.0);
  ASSIGN_OR_RETURN(c->rope_scaling, ParseRopeScaling(j, source));
  ASSIGN_OR_RETURN(std::optional<bool> bias, fields.Bool("attention_bias"));
  c->attention_bias = c->model_type == "qwen2" ? true : bias.value_or(false);
  ASSIGN_OR_RETURN(std::optional<bool> tie, fields.Bool("tie_word_embeddings"));
  c->tie_word_embeddings = tie.value_or(false);
  ASSIGN_OR_RETURN(std::optional<int64_t> bos, fields.Int("bos_token_id"));
  // An explicit null means "none"; only a missing key takes the default.
  c->bos_token_id = bos.value_or(j.contains("bos_token_id") ? -1 : defaults.bos_token_id);
  ASSIGN_OR_RETURN(c->eos_token_ids, fields.IntOrIntList("eos_token_id"));
  if (!j.contains("eos_token_id")) {
    c->eos_token_ids = defaults.eos_token_ids;
  }
  // transformers >= 4.56 writes "dtype"; earlier releases "torch_dtype".
  const char* dtype_key = fields.Get("torch_dtype") ? "torch_dtype" : "dtype";
  ASSIGN_OR_RETURN(std::optional<std::string> dtype, fields.String(dtype_key));
  if (dtype) {
    if (*dtype != "float32" && *dtype != "float16" && *dtype != "bfloat16") {
      return fields.Error(dtype_key, *dtype, "expected float32, float16 or bfloat16");
    }
    c->torch_dtype = *dtype;
  }
  const json* arch = fields.Get("architectures");
  if (arch == nullptr) {
    c->architectures = {defaults.architecture};
  } else {
    if (!arch->is_array()) return fields.Error("architectures", *arch, "expected a list");
    for (const json& a : *arch) {
      if (!a.is_string()) return fields.Error("architectures", *arch, "expected strings");
      c->architectures.push_back(a.get<std::string>());
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t ModelConfig::NumParameters() const {
  const int64_t h = hidden_size, q_dim = num_attention_heads * head_dim,
                kv_dim = num_key_value_heads * head_dim;
  // Biases: Qwen2 biases q/k/v only; Llama's attention_bias also biases o_proj.
  const int64_t biases = attention_bias ? q_dim + 2 * kv_dim + (model_type == "llama" ? h : 0) : 0;
  const int64_t attention = h * q_dim + 2 * h * kv_dim + q_dim * h + biases;
  const int64_t mlp = 3 * h * intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * h;  // + input and post-attention norms
  const int64_t embeddings = vocab_size * h * (tie_word_embeddings ? 1 : 2);
  return embeddings + num_hidden_layers * per_layer + h;  // + final norm
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON: ", e.what()));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object, got ", j.type_name()));
  }
  Fields fields(j, source);
  ModelConfig c;
  ASSIGN_OR_RETURN(std::optional<std::string> model_type, fields.String("model_type"));
  if (!model_type) return fields.Missing("model_type");
  const std::optional<TypeDefaults> defaults = DefaultsFor(*model_type);
  if (!defaults) {
    return fields.Error("model_type", *model_type, "unsupported (supported: llama, qwen2)");
  }
  c.model_type = *model_type;
  RETURN_IF_ERROR(CheckUnsupported(fields));
  RETURN_IF_ERROR(ParseShape(fields, &c));
  RETURN_IF_ERROR(ParseRest(j, fields, *defaults, source, &c));
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return ParseModelConfig(text.str(), path);
}

std::string ModelConfigToJson(const ModelConfig& c) {
  const bool qwen2 = c.model_type == "qwen2";
  const std::optional<TypeDefaults> defaults = DefaultsFor(c.model_type);
  json j = json::object();  // keys come out sorted, as transformers writes them
  j["architectures"] = c.architectures.empty() && defaults
                           ? std::vector<std::string>{defaults->architecture}
                           : c.architectures;
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (!qwen2 || c.head_dim * c.num_attention_heads != c.hidden_size) j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  if (c.rope_scaling.type == "llama3") {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", c.rope_scaling.factor},
        {"low_freq_factor", c.rope_scaling.low_freq_factor},
        {"high_freq_factor", c.rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr);
  j["eos_token_id"] = c.eos_token_ids.empty()       ? json(nullptr)
                      : c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0])
                                                    : json(c.eos_token_ids);
  j["torch_dtype"] = c.torch_dtype;
  j["transformers_version"] = kTransformersVersion;
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["use_cache"] = true;
  if (qwen2) {
    j["use_sliding_window"] = false;
    j["sliding_window"] = c.max_position_embeddings;
    j["max_window_layers"] = c.num_hidden_layers;
  } else {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = false;
    j["pretraining_tp"] = 1;
  }
  return j.dump(2) + "\n";
}

}  // namespace r1rl::model
