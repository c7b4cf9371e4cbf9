// The schema of r1rl's one configuration format: every key the project reads, with its
// type, default and meaning. docs/configuration.md is written from this table
// (`r1rl config --docs`) and a test keeps the two in step.
//
// Thread-safety: the schema is immutable after static initialisation.
#ifndef R1RL_LIB_CONFIG_CONFIG_SCHEMA_H_
#define R1RL_LIB_CONFIG_CONFIG_SCHEMA_H_

#include <string>
#include <vector>

namespace r1rl::config {

enum class KeyType { kBool, kInt, kDouble, kString, kStringList, kIntList };

struct KeySpec {
  std::string path;  // dotted, e.g. "generation.temperature"
  KeyType type;
  std::string default_value;  // as YAML text: "1.0", "true", "[]", "\"r1-zero\""
  std::string doc;            // meaning, unit, and whether it may change at run time
};

// The closed range a numeric key's value must lie in, where the key has one.
struct KeyRange {
  double min;
  double max;
};

// Every known key, in documentation order.
const std::vector<KeySpec>& Schema();
// The spec of `path`, or nullptr for an unknown key.
const KeySpec* FindKey(const std::string& path);
const char* KeyTypeName(KeyType type);
// The range of `path`'s value, or nullptr for a key without one (any value of its type).
const KeyRange* FindRange(const std::string& path);
// docs/configuration.md as Markdown.
std::string SchemaMarkdown();

}  // namespace r1rl::config

#endif  // R1RL_LIB_CONFIG_CONFIG_SCHEMA_H_
