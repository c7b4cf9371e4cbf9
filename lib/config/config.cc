#include "lib/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/config/config_schema.h"
#include "lib/status/status_macros.h"

namespace r1rl::config {
namespace {

absl::Status Invalid(const std::string& source, const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": key '", path, "': ", why));
}

// Checks that `node` holds a value of `type`; returns why not.
std::string TypeError(const YAML::Node& node, KeyType type) {
  try {
    switch (type) {
      case KeyType::kBool:
        node.as<bool>();
        return "";
      case KeyType::kInt:
        node.as<int64_t>();
        return "";
      case KeyType::kDouble:
        node.as<double>();
        return "";
      case KeyType::kString:
        if (!node.IsScalar()) return "expected a string";
        return "";
      case KeyType::kStringList:
        if (!node.IsSequence()) return "expected a list of strings";
        for (const auto& item : node) {
          if (!item.IsScalar()) return "expected a list of strings";
        }
        return "";
      case KeyType::kIntList:
        if (!node.IsSequence()) return "expected a list of ints";
        for (const auto& item : node) item.as<int64_t>();
        return "";
    }
  } catch (const YAML::Exception&) {
  }
  return absl::StrCat("expected ", KeyTypeName(type));
}

// Emits `node` as one line of flow-style YAML.
std::string Flow(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

// Walks a mapping, flattening "a: {b: 1}" into "a.b" -> node.
absl::Status Flatten(const YAML::Node& node, const std::string& prefix, const std::string& source,
                     std::vector<std::pair<std::string, YAML::Node>>* out) {
  if (!node.IsMap()) {
    return Invalid(source, prefix.empty() ? "<root>" : prefix, "expected a mapping");
  }
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::string path = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
    if (kv.second.IsMap()) {
      RETURN_IF_ERROR(Flatten(kv.second, path, source, out));
    } else {
      out->emplace_back(path, kv.second);
    }
  }
  return absl::OkStatus();
}

YAML::Node ParseValue(const std::string& text) { return YAML::Load(text); }

}  // namespace

absl::StatusOr<Config> Config::FromYaml(const std::string& yaml_text, const std::string& source) {
  Config config;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
  }
  if (root.IsNull()) return config;  // an empty file sets nothing
  std::vector<std::pair<std::string, YAML::Node>> entries;
  RETURN_IF_ERROR(Flatten(root, "", source, &entries));
  for (const auto& [path, node] : entries) {
    RETURN_IF_ERROR(config.SetValue(path, Flow(node), source));
  }
  return config;
}

absl::StatusOr<Config> Config::Load(const std::vector<std::string>& files,
                                    const std::vector<std::string>& overrides) {
  Config config;
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot open config file"));
    std::stringstream text;
    text << in.rdbuf();
    ASSIGN_OR_RETURN(Config layer, FromYaml(text.str(), file));
    for (auto& [path, value] : layer.values_) config.values_[path] = value;
  }
  for (const std::string& assignment : overrides) RETURN_IF_ERROR(config.Set(assignment));
  return config;
}

absl::Status Config::Set(const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set: expected key.path=value, got '", assignment, "'"));
  }
  return SetValue(assignment.substr(0, eq), assignment.substr(eq + 1), "--set");
}

absl::Status Config::SetValue(const std::string& path, const std::string& value_yaml,
                              const std::string& source) {
  const KeySpec* spec = FindKey(path);
  if (spec == nullptr) return Invalid(source, path, "unknown key (see docs/configuration.md)");
  YAML::Node node;
  try {
    node = ParseValue(value_yaml.empty() ? "\"\"" : value_yaml);
  } catch (const YAML::Exception& e) {
    return Invalid(source, path, absl::StrCat("value '", value_yaml, "' is not valid YAML"));
  }
  std::string error = TypeError(node, spec->type);
  if (!error.empty()) return Invalid(source, path, absl::StrCat(error, ", got '", value_yaml, "'"));
  if (const KeyRange* range = FindRange(path); range != nullptr) {
    const double v = node.as<double>();
    if (!(v >= range->min && v <= range->max)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", path, " = ", value_yaml,
                                                     ": must be in [", range->min, ", ", range->max,
                                                     "]"));
    }
  }
  values_[path] = Flow(node);
  return absl::OkStatus();
}

std::string Config::Raw(const std::string& path) const {
  const KeySpec* spec = FindKey(path);
  if (spec == nullptr) {
    std::fprintf(stderr, "r1rl: internal error: config key '%s' is not in the schema\n",
                 path.c_str());
    std::abort();
  }
  auto it = values_.find(path);
  return it != values_.end() ? it->second : spec->default_value;
}

bool Config::GetBool(const std::string& path) const { return ParseValue(Raw(path)).as<bool>(); }
int64_t Config::GetInt(const std::string& path) const {
  return ParseValue(Raw(path)).as<int64_t>();
}
double Config::GetDouble(const std::string& path) const {
  return ParseValue(Raw(path)).as<double>();
}
std::string Config::GetString(const std::string& path) const {
  return ParseValue(Raw(path)).as<std::string>();
}
std::vector<std::string> Config::GetStringList(const std::string& path) const {
  return ParseValue(Raw(path)).as<std::vector<std::string>>();
}
std::vector<int64_t> Config::GetIntList(const std::string& path) const {
  return ParseValue(Raw(path)).as<std::vector<int64_t>>();
}
bool Config::IsSet(const std::string& path) const { return values_.count(path) > 0; }

std::string Config::ToYaml() const {
  YAML::Node root;
  for (const KeySpec& spec : Schema()) {
    std::vector<std::string> parts = absl::StrSplit(spec.path, '.');
    YAML::Node value = ParseValue(Raw(spec.path));
    if (parts.size() == 2) {
      root[parts[0]][parts[1]] = value;
    } else {
      root[spec.path] = value;
    }
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace r1rl::config
