#include "lib/pipeline/pipeline_runner.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/config/config.h"
#include "lib/data/prompt_dataset.h"
#include "lib/eval/eval_report_io.h"
#include "lib/eval/eval_set.h"
#include "lib/eval/evaluator.h"
#include "lib/model/generation_config.h"
#include "lib/model/model_loading.h"
#include "lib/model/policy.h"
#include "lib/pipeline/grpo_run.h"
#include "lib/pipeline/merge.h"
#include "lib/pipeline/model_hash.h"
#include "lib/pipeline/rejection_sampler.h"
#include "lib/pipeline/sft_run.h"
#include "lib/rewards/grader.h"
#include "lib/status/status_macros.h"
#include "lib/transport/sha256.h"

namespace r1rl::pipeline {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string Now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Every file under `dir` (relative path -> SHA-256), but the checkpoint and the stage's
// bookkeeping.
Json OutputHashes(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = fs::relative(it->path(), dir).string();
    if (rel.rfind("checkpoint", 0) == 0) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || rel == "manifest.json" || rel == "started.json" ||
        rel == "manifest.json.tmp")
      continue;
    files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  Json j = Json::object();
  for (const std::string& f : files) j[f] = transport::Sha256File(dir + "/" + f);
  return j;
}

absl::Status WriteJsonAtomically(const std::string& path, const Json& j) {
  {
    std::ofstream out(path + ".tmp", std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  std::error_code ec;
  fs::rename(path + ".tmp", path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", path, ".tmp: ", ec.message()));
  return absl::OkStatus();
}

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Json();
  Json j = Json::parse(in, nullptr, false);
  return j.is_discarded() ? Json() : j;
}

// Keeps the lines of metrics.jsonl up to `step` (a resumed stage appends after them).
void TruncateMetrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  std::vector<std::string> keep;
  std::string line;
  while (std::getline(in, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") &&
        j["step"].get<double>() <= static_cast<double>(step))
      keep.push_back(line);
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& l : keep) out << l << "\n";
}

class Runner {
 public:
  Runner(const PipelineSpec& spec, std::ostream& out) : spec_(spec), out_(out) {}

  absl::Status Check() const {
    RETURN_IF_ERROR(CheckInputsExist(spec_));
    for (const StageSpec& s : spec_.stages) {
      if (auto cfg = StageConfig(s); !cfg.ok()) {
        return absl::Status(cfg.status().code(),
                            absl::StrCat("stage ", s.name, ": ", cfg.status().message()));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StageOutcome>> Run() {
    RETURN_IF_ERROR(Check());
    std::error_code ec;
    fs::create_directories(spec_.run_dir, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("pipeline.run_dir = ", spec_.run_dir, ": ", ec.message()));
    out_ << absl::StrFormat("pipeline %s: %d stages in %s, from %s\n", spec_.name,
                            spec_.stages.size(), spec_.run_dir, spec_.base_model);
    std::vector<StageOutcome> outcomes;
    if (!spec_.eval_each.data.empty()) {  // the starting point each stage's gain is read against
      StageSpec base;
      base.name = "base";
      base.kind = StageKind::kEval;
      base.model.stage = "base";
      base.data.path = spec_.eval_each.data;
      base.k = spec_.eval_each.k;
      base.limit = spec_.eval_each.limit;
      base.set = {"generation.temperature=0.6", "generation.top_p=0.95"};
      out_ << "\n[0/" << spec_.stages.size() << "] base model (eval)\n" << std::flush;
      auto outcome = RunStage(base);
      if (!outcome.ok())
        return absl::Status(outcome.status().code(),
                            absl::StrCat("eval of the base model: ", outcome.status().message()));
      outcome->kind = "eval (base)";
      outcomes.push_back(*outcome);
    }
    for (size_t i = 0; i < spec_.stages.size(); ++i) {
      const StageSpec& s = spec_.stages[i];
      out_ << absl::StrFormat("\n[%d/%d] %s (%s)\n", i + 1, spec_.stages.size(), s.name,
                              StageKindName(s.kind))
           << std::flush;
      auto outcome = RunStage(s);
      if (!outcome.ok()) {
        return absl::Status(outcome.status().code(),
                            absl::StrCat("stage ", s.name, " (", StageKindName(s.kind),
                                         "): ", outcome.status().message()));
      }
      outcomes.push_back(*outcome);
    }
    return outcomes;
  }

 private:
  std::string Dir(const std::string& stage) const { return spec_.run_dir + "/" + stage; }
  std::string ModelDir(const Ref& r) const {
    if (r.stage == "base") return spec_.base_model;
    return r.stage.empty() ? r.path : Dir(r.stage) + "/model";
  }
  std::string DataPath(const Ref& r) const {
    return r.stage.empty() ? r.path : Dir(r.stage) + "/data.jsonl";
  }

  // A stage's config files and overrides: the pipeline's, the stage's, the command line's.
  struct Layers {
    std::vector<std::string> files, sets;
  };
  Layers StageLayers(const StageSpec& s) const {
    Layers l{spec_.config_files, spec_.set};
    l.files.insert(l.files.end(), s.config_files.begin(), s.config_files.end());
    l.sets.insert(l.sets.end(), s.set.begin(), s.set.end());
    l.sets.insert(l.sets.end(), spec_.overrides.begin(), spec_.overrides.end());
    return l;
  }
  absl::StatusOr<config::Config> StageConfig(const StageSpec& s) const {
    const Layers l = StageLayers(s);
    return config::Config::Load(l.files, l.sets);
  }

  absl::StatusOr<StageOutcome> RunStage(const StageSpec& s) {
    const auto start = Clock::now();
    ASSIGN_OR_RETURN(config::Config cfg, StageConfig(s));
    const std::string dir = Dir(s.name);
    // What the stage reads, hashed: the fingerprint a finished manifest must match.
    Json inputs = Json::object();
    if (s.kind != StageKind::kMerge)
      inputs["model"] = {{"path", ModelDir(s.model)}, {"sha256", ModelHash(ModelDir(s.model))}};
    if (!s.data.empty())
      inputs["data"] = {{"path", DataPath(s.data)},
                        {"sha256", transport::Sha256File(DataPath(s.data))}};
    for (const MergeInput& in : s.inputs) {
      inputs["inputs"].push_back({{"path", DataPath(in.data)},
                                  {"weight", in.weight},
                                  {"sha256", transport::Sha256File(DataPath(in.data))}});
    }
    const std::string yaml = cfg.ToYaml();
    Json fp;
    fp["kind"] = StageKindName(s.kind);
    fp["inputs"] = inputs;
    fp["config_sha256"] = transport::Sha256Hex(yaml);
    fp["samples"] = s.samples;
    fp["keep"] = s.keep;
    fp["k"] = s.k;
    fp["limit"] = s.limit;
    if (MakesModel(s.kind) && !spec_.eval_each.data.empty()) {
      fp["eval_each"] = {{"data", transport::Sha256File(spec_.eval_each.data)},
                         {"k", spec_.eval_each.k},
                         {"limit", spec_.eval_each.limit}};
    }
    const std::string fingerprint = transport::Sha256Hex(fp.dump());

    const Json manifest = ReadJson(dir + "/manifest.json");
    if (manifest.is_object() && manifest.value("status", "") == "finished" &&
        manifest.value("fingerprint", "") == fingerprint) {
      StageOutcome o = FromManifest(s, manifest);
      o.skipped = true;
      out_ << "  finished in an earlier run (" << dir << "/manifest.json): " << o.summary << "\n";
      if (manifest.contains("eval_table")) out_ << manifest["eval_table"].get<std::string>();
      return o;
    }
    std::error_code ec;
    const Json started = ReadJson(dir + "/started.json");
    if (manifest.is_object() ||
        (started.is_object() && started.value("fingerprint", "") != fingerprint)) {
      out_ << "  its inputs or settings changed since it last ran: starting it over\n";
      fs::remove_all(dir, ec);
    }
    fs::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    std::ofstream(dir + "/config.yaml") << yaml;
    RETURN_IF_ERROR(WriteJsonAtomically(dir + "/started.json",
                                        {{"fingerprint", fingerprint}, {"started", Now()}}));

    StageOutcome o;
    o.name = s.name;
    o.kind = StageKindName(s.kind);
    Json metrics = Json::object();
    std::string table;
    switch (s.kind) {
      case StageKind::kSft:
      case StageKind::kRl:
        RETURN_IF_ERROR(Train(s, cfg, dir, &metrics, &o));
        break;
      case StageKind::kRejectionSample:
        RETURN_IF_ERROR(RejectionSample(s, cfg, dir, &metrics, &o));
        break;
      case StageKind::kMerge:
        RETURN_IF_ERROR(Merge(s, cfg, dir, &metrics, &o));
        break;
      case StageKind::kEval: {
        ASSIGN_OR_RETURN(table, Evaluate(cfg, ModelDir(s.model), DataPath(s.data), s.k, s.limit,
                                         dir, &metrics, &o));
        break;
      }
    }
    if (MakesModel(s.kind) && !spec_.eval_each.data.empty()) {
      config::Config ecfg = cfg;
      RETURN_IF_ERROR(ecfg.Set("generation.temperature=0.6"));
      RETURN_IF_ERROR(ecfg.Set("generation.top_p=0.95"));
      fs::create_directories(dir + "/eval", ec);
      Json em = Json::object();
      ASSIGN_OR_RETURN(table,
                       Evaluate(ecfg, dir + "/model", spec_.eval_each.data, spec_.eval_each.k,
                                spec_.eval_each.limit, dir + "/eval", &em, &o));
      metrics["eval"] = em;
    }
    o.seconds = Since(start);
    Json m;
    m["stage"] = s.name;
    m["kind"] = StageKindName(s.kind);
    m["status"] = "finished";
    m["fingerprint"] = fingerprint;
    m["started"] = ReadJson(dir + "/started.json").value("started", "");
    m["finished"] = Now();
    m["seconds"] = o.seconds;  // this run's share (a resumed stage's earlier time is not counted)
    m["inputs"] = inputs;
    const Layers layers = StageLayers(s);
    m["config"] = {{"files", layers.files},
                   {"set", layers.sets},
                   {"effective_sha256", transport::Sha256Hex(yaml)}};
    m["outputs"] = OutputHashes(dir);
    m["metrics"] = metrics;
    m["summary"] = o.summary;
    if (!table.empty()) m["eval_table"] = table;
    RETURN_IF_ERROR(WriteJsonAtomically(dir + "/manifest.json", m));
    fs::remove_all(dir + "/checkpoint", ec);
    out_ << absl::StrFormat("  done in %.0f s: %s\n", o.seconds, o.summary) << std::flush;
    return o;
  }

  StageOutcome FromManifest(const StageSpec& s, const Json& m) const {
    StageOutcome o;
    o.name = s.name;
    o.kind = StageKindName(s.kind);
    o.seconds = m.value("seconds", 0.0);
    o.summary = m.value("summary", "");
    const Json& metrics = m["metrics"];
    const Json* e = metrics.contains("eval") ? &metrics["eval"]
                                             : (s.kind == StageKind::kEval ? &metrics : nullptr);
    if (e != nullptr && e->contains("pass@1")) {
      o.pass_at_1 = (*e)["pass@1"].get<double>();
      o.k = (*e).value("k", 0);
      o.cons_at_k = (*e).value("cons@k", -1.0);
    }
    return o;
  }

  absl::Status Train(const StageSpec& s, const config::Config& cfg, const std::string& dir,
                     Json* metrics, StageOutcome* o) {
    ASSIGN_OR_RETURN(model::LoadedModel m, model::LoadModel(cfg, ModelDir(s.model)));
    const bool rl = s.kind == StageKind::kRl;
    const int64_t steps = cfg.GetInt(rl ? "grpo.steps" : "sft.steps");
    const std::string metrics_path = dir + "/metrics.jsonl";
    std::ofstream lines;
    const auto start = Clock::now();
    int64_t first_step = 0;
    auto on_resume = [&](int64_t step) {
      first_step = step;
      out_ << absl::StrFormat("  resuming at step %d of %d from %s/checkpoint\n", step, steps, dir)
           << std::flush;
      TruncateMetrics(metrics_path, step);
    };
    const int64_t every = std::max<int64_t>(1, steps / 10);
    auto on_step = [&](const learner::Metrics& mm) {
      if (!lines.is_open()) lines.open(metrics_path, std::ios::app);
      Json j;
      for (const auto& [k, v] : mm) j[k] = v;
      lines << j.dump() << "\n" << std::flush;
      const int64_t step = static_cast<int64_t>(mm.at("step"));
      if (step % every == 0 || step == steps) {
        const double per =
            Since(start) / static_cast<double>(std::max<int64_t>(1, step - first_step));
        if (rl) {
          out_ << absl::StrFormat(
              "  rl  %4d/%d  reward %.3f  accuracy %.3f  format %.3f  length %.1f  kl %.4f  %.2f "
              "s/step\n",
              step, steps, mm.at("reward"), mm.at("reward/accuracy"), mm.at("reward/format"),
              mm.at("response_length"), mm.count("kl") ? mm.at("kl") : 0.0, per);
        } else {
          out_ << absl::StrFormat("  sft %4d/%d  loss %.4f  lr %.2e  %.2f s/step\n", step, steps,
                                  mm.at("loss"), mm.count("lr") ? mm.at("lr") : 0.0, per);
        }
        out_ << std::flush;
      }
    };
    TrainingRun run;
    run.data = DataPath(s.data);
    run.out = dir + "/model";
    run.tokenizer_path = m.tokenizer_path;
    run.format = m.format;
    run.checkpoint_dir = dir + "/checkpoint";
    run.checkpoint_every = s.checkpoint_every;
    run.checkpoint_keep = s.checkpoint_keep;
    run.on_step = on_step;
    run.on_resume = on_resume;
    learner::Metrics last;
    if (rl) {
      ASSIGN_OR_RETURN(last, RunGrpo(cfg, m.policy.get(), *m.tokenizer, run));
      o->summary = absl::StrFormat("%d GRPO steps, last reward %.3f (accuracy %.3f)", steps,
                                   last.count("reward") ? last["reward"] : 0.0,
                                   last.count("reward/accuracy") ? last["reward/accuracy"] : 0.0);
    } else {
      ASSIGN_OR_RETURN(last, RunSft(cfg, m.policy.get(), *m.tokenizer, run));
      o->summary = absl::StrFormat("%d SFT steps, last loss %.4f", steps,
                                   last.count("loss") ? last["loss"] : 0.0);
    }
    (*metrics)["steps"] = steps;
    (*metrics)["resumed_at_step"] = first_step;
    Json lastj = Json::object();
    for (const auto& [k, v] : last) lastj[k] = v;
    (*metrics)["last_step"] = lastj;
    return absl::OkStatus();
  }

  absl::Status RejectionSample(const StageSpec& s, const config::Config& cfg,
                               const std::string& dir, Json* metrics, StageOutcome* o) {
    const std::string model_dir = ModelDir(s.model);
    ASSIGN_OR_RETURN(model::LoadedModel m, model::LoadModel(cfg, model_dir));
    ASSIGN_OR_RETURN(reward::GraderOptions gopt, reward::GraderOptionsFromConfig(cfg));
    const reward::Grader grader(gopt);
    ASSIGN_OR_RETURN(learner::PromptDataset dataset,
                     learner::PromptDataset::Load(DataPath(s.data)));
    std::vector<learner::PromptRow> rows;
    while (auto r = dataset.Next()) {
      if (s.limit > 0 && static_cast<int64_t>(rows.size()) >= s.limit) break;
      rows.push_back(*r);
    }
    RejectionOptions ro;
    ro.samples = s.samples;
    ro.keep = s.keep;
    ro.generation = model::GenerationOptionsFromConfig(cfg);
    ro.format = m.format;
    ro.system_prompt = cfg.GetString("prompt.system");
    ro.language = gopt.language;
    ro.model_version = absl::StrCat(model_dir, "@", ModelHash(model_dir).substr(0, 16));
    RejectionSampler sampler(m.policy.get(), m.tokenizer.get(), &grader, ro);
    ASSIGN_OR_RETURN(RejectionReport r, sampler.Run(rows));
    RETURN_IF_ERROR(WriteRejectionOutputs(r, dir + "/data.jsonl", dir + "/acceptance.json"));
    (*metrics)["prompts"] = rows.size();
    (*metrics)["samples"] = r.samples;
    (*metrics)["accepted"] = r.accepted;
    (*metrics)["acceptance_rate"] = r.acceptance_rate();
    (*metrics)["duplicates"] = r.duplicates;
    (*metrics)["kept"] = r.kept;
    (*metrics)["prompts_with_rows"] = r.prompts_with_rows;
    (*metrics)["rejected_by"] = r.reasons;
    o->summary = absl::StrFormat(
        "%d of %d samples accepted (%.1f%%), %d rows kept from %d of %d prompts", r.accepted,
        r.samples, 100 * r.acceptance_rate(), r.kept, r.prompts_with_rows, rows.size());
    out_ << "  rejected by: ";
    for (const auto& [k, v] : r.reasons) out_ << k << " " << v << "  ";
    out_ << "\n";
    return absl::OkStatus();
  }

  absl::Status Merge(const StageSpec& s, const config::Config& cfg, const std::string& dir,
                     Json* metrics, StageOutcome* o) {
    std::vector<WeightedSet> sets;
    for (const MergeInput& in : s.inputs) sets.push_back({DataPath(in.data), in.weight});
    ASSIGN_OR_RETURN(MergeStats st,
                     MergeSftSets(sets, static_cast<uint64_t>(cfg.GetInt("generation.seed")),
                                  dir + "/data.jsonl"));
    (*metrics)["rows_in"] = st.rows_in;
    (*metrics)["rows_taken"] = st.rows_taken;
    (*metrics)["rows_out"] = st.rows_out;
    std::string parts;
    for (size_t i = 0; i < sets.size(); ++i) {
      absl::StrAppend(&parts, i ? ", " : "", st.rows_taken[i], " of ", st.rows_in[i], " from ",
                      s.inputs[i].data.ToString());
    }
    o->summary = absl::StrFormat("%d rows (%s)", st.rows_out, parts);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Evaluate(const config::Config& cfg, const std::string& model_dir,
                                       const std::string& data, int k, int64_t limit,
                                       const std::string& out_dir, Json* metrics, StageOutcome* o) {
    ASSIGN_OR_RETURN(eval::EvalSet set, eval::LoadEvalSet(data));
    if (limit > 0 && static_cast<int64_t>(set.problems.size()) > limit)
      set.problems.resize(static_cast<size_t>(limit));
    ASSIGN_OR_RETURN(model::LoadedModel m, model::LoadModel(cfg, model_dir));
    ASSIGN_OR_RETURN(reward::GraderOptions gopt, reward::GraderOptionsFromConfig(cfg));
    const reward::Grader grader(gopt);
    eval::EvaluatorOptions eo;
    eo.k = k;
    eo.generation = model::GenerationOptionsFromConfig(cfg);
    eo.format = m.format;
    eo.system_prompt = cfg.GetString("prompt.system");
    eval::Evaluator evaluator(m.policy.get(), m.tokenizer.get(), &grader, eo);
    ASSIGN_OR_RETURN(eval::EvalReport report, evaluator.Run(set));
    Json settings;
    settings["model"] = model_dir;
    settings["data"] = data;
    settings["temperature"] = eo.generation.temperature;
    settings["top_p"] = eo.generation.top_p;
    settings["max_new_tokens"] = eo.generation.max_new_tokens;
    settings["seed"] = eo.generation.seed;
    RETURN_IF_ERROR(eval::WriteEvalReport(report, settings, out_dir));
    (*metrics)["k"] = k;
    (*metrics)["problems"] = report.overall.problems;
    (*metrics)["pass@1"] = report.overall.pass_at_1;
    (*metrics)["cons@k"] = report.overall.cons_at_k;
    (*metrics)["pass@k"] = report.overall.pass_at_k;
    (*metrics)["format_rate"] = report.overall.format_rate;
    (*metrics)["mean_response_tokens"] = report.overall.mean_length;
    o->pass_at_1 = report.overall.pass_at_1;
    o->cons_at_k = report.overall.cons_at_k;
    o->k = k;
    if (o->summary.empty()) {
      o->summary =
          absl::StrFormat("pass@1 %.3f, cons@%d %.3f on %d problems", report.overall.pass_at_1, k,
                          report.overall.cons_at_k, report.overall.problems);
    }
    const std::string table =
        absl::StrCat("  eval of ", model_dir, " on ", data, " (k = ", k, ", temperature ",
                     eo.generation.temperature, "):\n", eval::EvalTable(report));
    out_ << table << std::flush;
    return table;
  }

  const PipelineSpec& spec_;
  std::ostream& out_;
};

}  // namespace

absl::Status CheckPipeline(const PipelineSpec& spec) { return Runner(spec, std::cout).Check(); }

absl::StatusOr<std::vector<StageOutcome>> RunPipeline(const PipelineSpec& spec, std::ostream& out) {
  return Runner(spec, out).Run();
}

std::string OutcomeTable(const std::vector<StageOutcome>& outcomes) {
  std::string t = absl::StrFormat("%-16s %-17s %8s %8s %8s  %s\n", "stage", "kind", "pass@1",
                                  "cons@k", "seconds", "result");
  for (const StageOutcome& o : outcomes) {
    auto num = [](double v) { return v < 0 ? std::string("-") : absl::StrFormat("%.3f", v); };
    t += absl::StrFormat("%-16s %-17s %8s %8s %8s  %s\n", o.name.substr(0, 16), o.kind,
                         num(o.pass_at_1), num(o.cons_at_k),
                         o.skipped ? "(done)" : absl::StrFormat("%.0f", o.seconds), o.summary);
  }
  return t;
}

}  // namespace r1rl::pipeline
