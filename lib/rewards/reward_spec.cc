#include "lib/rewards/reward_spec.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace r1rl::reward {
namespace {

absl::Status Bad(const std::string& field, const nlohmann::json& value, const std::string& rule) {
  std::string shown = value.dump();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  return absl::InvalidArgumentError(absl::StrCat("reward.", field, " = ", shown, ": ", rule));
}

absl::StatusOr<std::string> StringField(const nlohmann::json& j, const std::string& field,
                                        bool required) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("reward.", field, ": missing"));
    return std::string();
  }
  if (!it->is_string()) return Bad(field, *it, "must be a string");
  return it->get<std::string>();
}

}  // namespace

const char* RewardKindName(RewardKind kind) {
  switch (kind) {
    case RewardKind::kMath:
      return "math";
    case RewardKind::kExact:
      return "exact";
    case RewardKind::kChoice:
      return "choice";
    case RewardKind::kCode:
      return "code";
  }
  return "math";
}

absl::StatusOr<RewardSpec> ParseRewardSpec(const nlohmann::json& j) {
  if (!j.is_object())
    return Bad("", j, "must be an object like {\"kind\": \"math\", \"answer\": \"42\"}");
  RewardSpec spec;
  auto kind = StringField(j, "kind", true);
  if (!kind.ok()) return kind.status();
  if (*kind == "math") {
    spec.kind = RewardKind::kMath;
  } else if (*kind == "exact") {
    spec.kind = RewardKind::kExact;
  } else if (*kind == "choice") {
    spec.kind = RewardKind::kChoice;
  } else if (*kind == "code") {
    spec.kind = RewardKind::kCode;
  } else {
    return Bad("kind", j["kind"], "one of math, exact, choice, code");
  }
  static const char* kKnown[] = {"kind",        "answer",         "language",    "tests",
                                 "test_script", "all_or_nothing", "cot_language"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
      return Bad(it.key(), it.value(), "unknown field");
    }
  }
  if (spec.kind != RewardKind::kCode) {
    auto answer = StringField(j, "answer", true);
    if (!answer.ok()) {
      // Numbers are accepted as their text ("answer": 42).
      auto it = j.find("answer");
      if (it == j.end() || !it->is_number()) return answer.status();
      answer = it->is_number_integer() ? std::to_string(it->get<int64_t>()) : it->dump();
    }
    spec.answer = *answer;
    auto lang = StringField(j, "language", false);
    if (!lang.ok()) return lang.status();
    spec.cot_language = *lang;
    if (spec.kind == RewardKind::kChoice && spec.answer.empty())
      return Bad("answer", j["answer"], "a letter A-E");
    return spec;
  }
  auto lang = StringField(j, "language", true);
  if (!lang.ok()) return lang.status();
  if (*lang != "python" && *lang != "cpp") return Bad("language", j["language"], "python or cpp");
  spec.program_language = *lang;
  auto cot = StringField(j, "cot_language", false);
  if (!cot.ok()) return cot.status();
  spec.cot_language = *cot;
  auto script = StringField(j, "test_script", false);
  if (!script.ok()) return script.status();
  spec.test_script = *script;
  if (auto it = j.find("all_or_nothing"); it != j.end()) {
    if (!it->is_boolean()) return Bad("all_or_nothing", *it, "must be true or false");
    spec.all_or_nothing = it->get<bool>();
  }
  if (auto it = j.find("tests"); it != j.end()) {
    if (!it->is_array()) return Bad("tests", *it, "must be a list of {\"stdin\", \"stdout\"}");
    for (size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& t = (*it)[i];
      const std::string field = absl::StrCat("tests[", i, "]");
      if (!t.is_object()) return Bad(field, t, "must be {\"stdin\": ..., \"stdout\": ...}");
      auto in = t.find("stdin"), out = t.find("stdout");
      if (in == t.end() || !in->is_string())
        return Bad(field + ".stdin", t.value("stdin", nlohmann::json()), "must be a string");
      if (out == t.end() || !out->is_string())
        return Bad(field + ".stdout", t.value("stdout", nlohmann::json()), "must be a string");
      spec.tests.push_back({in->get<std::string>(), out->get<std::string>()});
    }
  }
  if (spec.tests.empty() && spec.test_script.empty()) {
    return Bad("tests", j.value("tests", nlohmann::json::array()),
               "a code reward needs tests or a test_script");
  }
  return spec;
}

}  // namespace r1rl::reward
