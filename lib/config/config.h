// Config: the whole project's configuration, read from YAML files plus
// `--set key.path=value` overrides and checked against the schema (config_schema.h).
//
//   ASSIGN_OR_RETURN(Config cfg, Config::Load({"configs/demo.yaml"}, {"generation.top_p=0.9"}));
//   double t = cfg.GetDouble("generation.temperature");
//
// Loading fails with InvalidArgument naming the file (or "--set") and the key when a key
// is unknown, a value has the wrong type, or a file is not valid YAML. Every key has a
// default, so getters never fail for a schema key; asking for a key outside the schema is
// a programming error (CHECK).
//
// Thread-safety: immutable after Load; const methods may be called concurrently.
#ifndef R1RL_LIB_CONFIG_CONFIG_H_
#define R1RL_LIB_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::config {

class Config {
 public:
  // Files are applied in order (later wins), then overrides "a.b=value" in order.
  // Override values are parsed as YAML scalars or flow sequences ("[1, 2]").
  [[nodiscard]] static absl::StatusOr<Config> Load(const std::vector<std::string>& files,
                                                   const std::vector<std::string>& overrides);
  // Same, from YAML text (for tests and embedded defaults). `source` names it in errors.
  [[nodiscard]] static absl::StatusOr<Config> FromYaml(const std::string& yaml_text,
                                                       const std::string& source = "<yaml>");
  // Applies one "a.b=value" override on top of this config.
  [[nodiscard]] absl::Status Set(const std::string& assignment);

  // Every key `other` set (in a file or override) replaces this config's value: layers a
  // user's files over built-in defaults.
  void Merge(const Config& other) {
    for (const auto& [path, value] : other.values_) values_[path] = value;
  }

  bool GetBool(const std::string& path) const;
  int64_t GetInt(const std::string& path) const;
  double GetDouble(const std::string& path) const;
  std::string GetString(const std::string& path) const;
  std::vector<std::string> GetStringList(const std::string& path) const;
  std::vector<int64_t> GetIntList(const std::string& path) const;
  // True when a file or override set `path` (rather than the default).
  bool IsSet(const std::string& path) const;

  // The effective configuration (every key, defaults included) as YAML.
  std::string ToYaml() const;

 private:
  // Checks `value_yaml` against the type of `path` and stores it.
  absl::Status SetValue(const std::string& path, const std::string& value_yaml,
                        const std::string& source);
  std::string Raw(const std::string& path) const;

  std::map<std::string, std::string> values_;  // path -> YAML scalar/flow text
};

}  // namespace r1rl::config

#endif  // R1RL_LIB_CONFIG_CONFIG_H_
