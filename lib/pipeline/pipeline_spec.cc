#include "lib/pipeline/pipeline_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/status/status_macros.h"

namespace r1rl::pipeline {
namespace {

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// Replaces ${var} with its value; an unknown variable is an error naming `where`.
absl::StatusOr<std::string> Substitute(const std::string& text,
                                       const std::map<std::string, std::string>& vars,
                                       const std::string& where) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("${", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open);
    if (close == std::string::npos)
      return Bad(where, absl::StrCat("unclosed ${ in \"", text, "\""));
    out.append(text, pos, open - pos);
    const std::string name = text.substr(open + 2, close - open - 2);
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : vars) known.push_back(k);
      return Bad(where, absl::StrCat("unknown variable ${", name,
                                     "} (known: ", absl::StrJoin(known, ", "), ")"));
    }
    out += it->second;
    pos = close + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

struct Reader {
  const std::map<std::string, std::string>& vars;

  absl::StatusOr<std::string> String(const YAML::Node& node, const std::string& where) const {
    if (!node.IsScalar()) return Bad(where, "must be a string");
    return Substitute(node.Scalar(), vars, where);
  }
  absl::StatusOr<int64_t> Int(const YAML::Node& node, const std::string& where, int64_t min) const {
    int64_t v = 0;
    try {
      v = node.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Bad(where,
                 absl::StrCat("\"", node.IsScalar() ? node.Scalar() : "?", "\" is not an integer"));
    }
    if (v < min) return Bad(where, absl::StrCat(v, ": must be >= ", min));
    return v;
  }
  absl::StatusOr<std::vector<std::string>> Strings(const YAML::Node& node,
                                                   const std::string& where) const {
    std::vector<std::string> out;
    if (node.IsScalar()) {
      ASSIGN_OR_RETURN(std::string s, String(node, where));
      out.push_back(s);
      return out;
    }
    if (!node.IsSequence()) return Bad(where, "must be a string or a list of strings");
    for (size_t i = 0; i < node.size(); ++i) {
      ASSIGN_OR_RETURN(std::string s, String(node[i], absl::StrCat(where, "[", i, "]")));
      out.push_back(s);
    }
    return out;
  }
  // {key: value} -> "key=value" overrides, values as YAML text (${var} substituted).
  absl::StatusOr<std::vector<std::string>> Sets(const YAML::Node& node,
                                                const std::string& where) const {
    if (!node.IsMap()) return Bad(where, "must be a map of config keys to values");
    std::vector<std::string> out;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      std::string value;
      if (kv.second.IsScalar()) {
        ASSIGN_OR_RETURN(value,
                         Substitute(kv.second.Scalar(), vars, absl::StrCat(where, ".", key)));
        if (value.empty()) value = "\"\"";
      } else {
        YAML::Emitter e;
        e << YAML::Flow << kv.second;
        value = e.c_str();
      }
      out.push_back(absl::StrCat(key, "=", value));
    }
    return out;
  }
  absl::StatusOr<Ref> Reference(const YAML::Node& node, const std::string& where) const {
    ASSIGN_OR_RETURN(std::string s, String(node, where));
    if (s.empty()) return Bad(where, "is empty");
    Ref r;
    if (s[0] == '@') {
      r.stage = s.substr(1);
      if (r.stage.empty()) return Bad(where, "\"@\" names no stage");
    } else {
      r.path = s;
    }
    return r;
  }
};

absl::Status CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed,
                       const std::string& where) {
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      return Bad(where, absl::StrCat("unknown field \"", key,
                                     "\" (fields: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StageKind> ParseKind(const std::string& s, const std::string& where) {
  for (StageKind k : {StageKind::kSft, StageKind::kRl, StageKind::kRejectionSample,
                      StageKind::kMerge, StageKind::kEval}) {
    if (s == StageKindName(k)) return k;
  }
  return Bad(where, absl::StrCat("unknown stage kind \"", s,
                                 "\" (kinds: sft, rl, rejection_sample, merge, eval)"));
}

// The fields each kind takes besides name, kind, config, set.
std::set<std::string> FieldsOf(StageKind k) {
  switch (k) {
    case StageKind::kSft:
      return {"model", "data", "checkpoint_every", "checkpoint_keep"};
    case StageKind::kRl:
      return {"model", "prompts", "checkpoint_every", "checkpoint_keep"};
    case StageKind::kRejectionSample:
      return {"model", "prompts", "samples", "keep", "limit"};
    case StageKind::kMerge:
      return {"inputs"};
    case StageKind::kEval:
      return {"model", "data", "k", "limit"};
  }
  return {};
}

absl::StatusOr<StageSpec> ParseStage(const YAML::Node& node, size_t index, const Reader& r) {
  std::string where = absl::StrCat("stages[", index, "]");
  if (!node.IsMap()) return Bad(where, "must be a map with name and kind");
  if (!node["name"]) return Bad(where, "no name");
  StageSpec s;
  ASSIGN_OR_RETURN(s.name, r.String(node["name"], where + ".name"));
  if (s.name.empty() || s.name == "base" || s.name.find_first_of("/@ ") != std::string::npos) {
    return Bad(
        where + ".name",
        absl::StrCat("\"", s.name, "\": a stage name is a non-empty word other than \"base\""));
  }
  where = absl::StrCat("stage ", s.name);
  if (!node["kind"]) return Bad(where, "no kind");
  ASSIGN_OR_RETURN(std::string kind, r.String(node["kind"], where + ".kind"));
  ASSIGN_OR_RETURN(s.kind, ParseKind(kind, where + ".kind"));
  std::set<std::string> allowed = FieldsOf(s.kind);
  allowed.insert({"name", "kind", "config", "set"});
  RETURN_IF_ERROR(CheckKeys(node, allowed, absl::StrCat(where, " (", kind, ")")));
  if (node["model"]) {
    ASSIGN_OR_RETURN(s.model, r.Reference(node["model"], where + ".model"));
  }
  const char* data_field =
      s.kind == StageKind::kRl || s.kind == StageKind::kRejectionSample ? "prompts" : "data";
  if (s.kind != StageKind::kMerge) {
    if (!node[data_field])
      return Bad(where, absl::StrCat("no ", data_field, " (a file or \"@stage\")"));
    ASSIGN_OR_RETURN(s.data, r.Reference(node[data_field], absl::StrCat(where, ".", data_field)));
  } else {
    const YAML::Node inputs = node["inputs"];
    if (!inputs || !inputs.IsSequence() || inputs.size() == 0) {
      return Bad(where, "inputs: a non-empty list of {data: FILE or \"@stage\", weight: W}");
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string w = absl::StrCat(where, ".inputs[", i, "]");
      MergeInput in;
      if (inputs[i].IsScalar()) {
        ASSIGN_OR_RETURN(in.data, r.Reference(inputs[i], w));
      } else {
        if (!inputs[i].IsMap() || !inputs[i]["data"])
          return Bad(w, "must be {data: ..., weight: ...}");
        RETURN_IF_ERROR(CheckKeys(inputs[i], {"data", "weight"}, w));
        ASSIGN_OR_RETURN(in.data, r.Reference(inputs[i]["data"], w + ".data"));
        if (inputs[i]["weight"]) {
          try {
            in.weight = inputs[i]["weight"].as<double>();
          } catch (const YAML::Exception&) {
            return Bad(w + ".weight", "is not a number");
          }
          if (!(in.weight >= 0.0 && in.weight <= 1000.0))
            return Bad(w + ".weight", absl::StrCat(in.weight, ": must be in [0, 1000]"));
        }
      }
      s.inputs.push_back(in);
    }
  }
  if (node["config"]) {
    ASSIGN_OR_RETURN(s.config_files, r.Strings(node["config"], where + ".config"));
  }
  if (node["set"]) {
    ASSIGN_OR_RETURN(s.set, r.Sets(node["set"], where + ".set"));
  }
  if (node["checkpoint_every"]) {
    ASSIGN_OR_RETURN(s.checkpoint_every,
                     r.Int(node["checkpoint_every"], where + ".checkpoint_every", 0));
  }
  if (node["checkpoint_keep"]) {
    ASSIGN_OR_RETURN(s.checkpoint_keep,
                     r.Int(node["checkpoint_keep"], where + ".checkpoint_keep", 1));
  }
  if (node["samples"]) {
    ASSIGN_OR_RETURN(s.samples, r.Int(node["samples"], where + ".samples", 1));
  }
  if (node["keep"]) {
    ASSIGN_OR_RETURN(s.keep, r.Int(node["keep"], where + ".keep", 1));
  }
  if (node["k"]) {
    ASSIGN_OR_RETURN(s.k, r.Int(node["k"], where + ".k", 1));
  }
  if (node["limit"]) {
    ASSIGN_OR_RETURN(s.limit, r.Int(node["limit"], where + ".limit", 0));
  }
  return s;
}

// Orders stages so every input runs first (list order otherwise); a cycle is named.
absl::Status Order(PipelineSpec* spec) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec->stages.size(); ++i) index[spec->stages[i].name] = i;
  std::vector<std::vector<size_t>> deps(spec->stages.size());
  for (size_t i = 0; i < spec->stages.size(); ++i) {
    const StageSpec& s = spec->stages[i];
    auto add = [&](const Ref& r) {
      if (!r.stage.empty() && r.stage != "base") deps[i].push_back(index.at(r.stage));
    };
    add(s.model);
    add(s.data);
    for (const MergeInput& in : s.inputs) add(in.data);
  }
  std::vector<int> state(spec->stages.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<size_t> path, order;
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    if (state[i] == 1) {
      std::vector<std::string> names;
      auto from = std::find(path.begin(), path.end(), i);
      for (auto it = from; it != path.end(); ++it) names.push_back(spec->stages[*it].name);
      names.push_back(spec->stages[i].name);
      return absl::InvalidArgumentError(
          absl::StrCat("the stages form a cycle: ", absl::StrJoin(names, " -> "),
                       " (each reads the one after it; a stage without `model` reads the model "
                       "stage listed before it)"));
    }
    state[i] = 1;
    path.push_back(i);
    for (size_t d : deps[i]) RETURN_IF_ERROR(visit(d));
    path.pop_back();
    state[i] = 2;
    order.push_back(i);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < spec->stages.size(); ++i) RETURN_IF_ERROR(visit(i));
  std::vector<StageSpec> sorted;
  for (size_t i : order) sorted.push_back(spec->stages[i]);
  spec->stages = std::move(sorted);
  return absl::OkStatus();
}

}  // namespace

const char* StageKindName(StageKind kind) {
  switch (kind) {
    case StageKind::kSft:
      return "sft";
    case StageKind::kRl:
      return "rl";
    case StageKind::kRejectionSample:
      return "rejection_sample";
    case StageKind::kMerge:
      return "merge";
    case StageKind::kEval:
      return "eval";
  }
  return "?";
}

bool MakesModel(StageKind kind) { return kind == StageKind::kSft || kind == StageKind::kRl; }
bool MakesData(StageKind kind) {
  return kind == StageKind::kRejectionSample || kind == StageKind::kMerge;
}

absl::StatusOr<PipelineSpec> ParsePipeline(
    const std::string& yaml_text, const std::string& source,
    const std::map<std::string, std::string>& var_overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Bad(source, absl::StrCat("not valid YAML: ", e.what()));
  }
  const YAML::Node p = root["pipeline"];
  if (!p || !p.IsMap()) return Bad(source, "no `pipeline:` map at the top");
  RETURN_IF_ERROR(CheckKeys(
      p, {"name", "run_dir", "base_model", "vars", "config", "set", "eval_each", "stages"},
      source + ": pipeline"));
  PipelineSpec spec;
  std::map<std::string, std::string> vars;
  if (p["vars"]) {
    if (!p["vars"].IsMap()) return Bad(source, "pipeline.vars must be a map of names to strings");
    for (const auto& kv : p["vars"]) vars[kv.first.Scalar()] = kv.second.Scalar();
  }
  for (const auto& [k, v] : var_overrides) {
    if (!vars.count(k) && k != "name") {
      std::vector<std::string> known;
      for (const auto& [name, value] : vars) known.push_back(name);
      return Bad("--var", absl::StrCat("\"", k, "\" is not a variable of ", source,
                                       " (its vars: ", absl::StrJoin(known, ", "), ")"));
    }
    vars[k] = v;
  }
  spec.name = p["name"] ? p["name"].Scalar() : "pipeline";
  if (var_overrides.count("name")) spec.name = var_overrides.at("name");
  vars["name"] = spec.name;
  // Variables may use each other once (run_dir: runs/${name}).
  for (auto& [k, v] : vars) {
    if (k == "name") continue;
    ASSIGN_OR_RETURN(v, Substitute(v, vars, absl::StrCat("pipeline.vars.", k)));
  }
  spec.vars = vars;
  const Reader r{vars};
  const std::string where = source + ": pipeline";
  spec.run_dir = absl::StrCat("runs/", spec.name);
  if (p["run_dir"]) {
    ASSIGN_OR_RETURN(spec.run_dir, r.String(p["run_dir"], where + ".run_dir"));
  }
  if (!p["base_model"]) return Bad(where, "no base_model (the folder the first stage starts from)");
  ASSIGN_OR_RETURN(spec.base_model, r.String(p["base_model"], where + ".base_model"));
  if (p["config"]) {
    ASSIGN_OR_RETURN(spec.config_files, r.Strings(p["config"], where + ".config"));
  }
  if (p["set"]) {
    ASSIGN_OR_RETURN(spec.set, r.Sets(p["set"], where + ".set"));
  }
  if (const YAML::Node e = p["eval_each"]) {
    RETURN_IF_ERROR(CheckKeys(e, {"data", "k", "limit"}, where + ".eval_each"));
    if (!e["data"]) return Bad(where + ".eval_each", "no data");
    ASSIGN_OR_RETURN(spec.eval_each.data, r.String(e["data"], where + ".eval_each.data"));
    if (e["k"]) {
      ASSIGN_OR_RETURN(spec.eval_each.k, r.Int(e["k"], where + ".eval_each.k", 1));
    }
    if (e["limit"]) {
      ASSIGN_OR_RETURN(spec.eval_each.limit, r.Int(e["limit"], where + ".eval_each.limit", 0));
    }
  }
  const YAML::Node stages = p["stages"];
  if (!stages || !stages.IsSequence() || stages.size() == 0)
    return Bad(where, "stages: a non-empty list");
  std::map<std::string, StageKind> kinds;
  for (size_t i = 0; i < stages.size(); ++i) {
    ASSIGN_OR_RETURN(StageSpec s, ParseStage(stages[i], i, r));
    if (kinds.count(s.name))
      return Bad(source, absl::StrCat("two stages are named \"", s.name, "\""));
    kinds[s.name] = s.kind;
    spec.stages.push_back(std::move(s));
  }
  // Implicit models, then every reference checked against the stage it names.
  std::string latest_model = "base";
  for (StageSpec& s : spec.stages) {
    if (s.kind != StageKind::kMerge && s.model.empty()) s.model.stage = latest_model;
    if (MakesModel(s.kind)) latest_model = s.name;
  }
  for (const StageSpec& s : spec.stages) {
    auto check = [&](const Ref& ref, const std::string& field, bool want_model) -> absl::Status {
      if (ref.stage.empty() || (want_model && ref.stage == "base")) return absl::OkStatus();
      const std::string w = absl::StrCat(source, ": stage ", s.name, ".", field);
      auto it = kinds.find(ref.stage);
      if (it == kinds.end()) return Bad(w, absl::StrCat("\"@", ref.stage, "\" names no stage"));
      if (want_model && !MakesModel(it->second)) {
        return Bad(w, absl::StrCat("\"@", ref.stage, "\" is a ", StageKindName(it->second),
                                   " stage: it makes no model"));
      }
      if (!want_model && !MakesData(it->second)) {
        return Bad(w, absl::StrCat("\"@", ref.stage, "\" is a ", StageKindName(it->second),
                                   " stage: it makes no data (rejection_sample and merge do)"));
      }
      if (ref.stage == s.name) return Bad(w, "a stage cannot read its own output (a cycle)");
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(check(s.model, "model", true));
    RETURN_IF_ERROR(check(
        s.data,
        s.kind == StageKind::kRl || s.kind == StageKind::kRejectionSample ? "prompts" : "data",
        false));
    for (size_t i = 0; i < s.inputs.size(); ++i)
      RETURN_IF_ERROR(check(s.inputs[i].data, absl::StrCat("inputs[", i, "]"), false));
  }
  if (auto st = Order(&spec); !st.ok()) return Bad(source, std::string(st.message()));
  return spec;
}

absl::StatusOr<PipelineSpec> LoadPipeline(const std::string& path,
                                          const std::map<std::string, std::string>& vars) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("pipeline file ", path, ": cannot open it"));
  std::stringstream text;
  text << in.rdbuf();
  return ParsePipeline(text.str(), path, vars);
}

absl::Status CheckInputsExist(const PipelineSpec& spec) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto missing = [&](const std::string& where, const std::string& path) {
    return absl::NotFoundError(absl::StrCat(where, " = ", path, ": no such file or folder"));
  };
  if (!fs::exists(spec.base_model + "/config.json", ec)) {
    return absl::NotFoundError(
        absl::StrCat("pipeline.base_model = ", spec.base_model, ": no config.json there"));
  }
  for (const std::string& f : spec.config_files) {
    if (!fs::exists(f, ec)) return missing("pipeline.config", f);
  }
  if (!spec.eval_each.data.empty() && !fs::exists(spec.eval_each.data, ec))
    return missing("pipeline.eval_each.data", spec.eval_each.data);
  for (const StageSpec& s : spec.stages) {
    const std::string w = absl::StrCat("stage ", s.name);
    if (!s.model.path.empty() && !fs::exists(s.model.path + "/config.json", ec)) {
      return absl::NotFoundError(
          absl::StrCat(w, ".model = ", s.model.path, ": no config.json there"));
    }
    if (!s.data.path.empty() && !fs::exists(s.data.path, ec)) {
      return missing(
          w + (s.kind == StageKind::kRl || s.kind == StageKind::kRejectionSample ? ".prompts"
                                                                                 : ".data"),
          s.data.path);
    }
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      if (!s.inputs[i].data.path.empty() && !fs::exists(s.inputs[i].data.path, ec)) {
        return missing(absl::StrCat(w, ".inputs[", i, "].data"), s.inputs[i].data.path);
      }
    }
    for (const std::string& f : s.config_files) {
      if (!fs::exists(f, ec)) return missing(w + ".config", f);
    }
  }
  return absl::OkStatus();
}

}  // namespace r1rl::pipeline
