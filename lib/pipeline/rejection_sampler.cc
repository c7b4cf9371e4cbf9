#include "lib/pipeline/rejection_sampler.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/rewards/grader.h"
#include "lib/rewards/language_reward.h"
#include "lib/rewards/reward_spec.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

// The chain of thought: the <think> part when there is one, else the whole response.
std::string_view ChainOfThought(std::string_view text) {
  const size_t open = text.find("<think>");
  if (open == std::string_view::npos) return text;
  const size_t begin = open + 7;
  const size_t close = text.find("</think>", begin);
  return text.substr(begin,
                     close == std::string_view::npos ? std::string_view::npos : close - begin);
}

}  // namespace

absl::Status ValidateRejectionOptions(const RejectionOptions& o) {
  auto bad = [](const char* field, double v, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, " = ", v, ": ", rule));
  };
  if (o.samples < 1) return bad("samples", o.samples, "must be >= 1");
  if (o.keep < 1) return bad("keep", o.keep, "must be >= 1");
  if (o.prompts_per_batch < 1) return bad("prompts_per_batch", o.prompts_per_batch, "must be >= 1");
  if (!(o.filter.min_language >= 0 && o.filter.min_language <= 1)) {
    return bad("min_language", o.filter.min_language, "must be in [0, 1]");
  }
  if (o.filter.max_paragraph_chars < 0)
    return bad("max_paragraph_chars", o.filter.max_paragraph_chars, "must be >= 0");
  return absl::OkStatus();
}

RejectionSampler::RejectionSampler(model::Policy* policy, const tokenizer::Tokenizer* tokenizer,
                                   const reward::Grader* grader, RejectionOptions options)
    : policy_(policy), tokenizer_(tokenizer), grader_(grader), options_(std::move(options)) {}

absl::StatusOr<RejectionReport> RejectionSampler::Run(
    const std::vector<learner::PromptRow>& rows,
    const std::function<void(const RejectionProgress&)>& progress) {
  if (auto s = ValidateRejectionOptions(options_); !s.ok()) return s;
  const auto start = Clock::now();
  const RejectionFilter filter(options_.filter);
  RejectionReport report;
  // Specs first: a bad row fails before any sampling.
  std::vector<reward::RewardSpec> specs;
  for (const learner::PromptRow& row : rows) {
    auto json = nlohmann::json::parse(row.reward_json, nullptr, false);
    if (json.is_discarded())
      return absl::InvalidArgumentError(
          absl::StrCat("prompt ", row.prompt_id, ": reward is not JSON"));
    auto spec = reward::ParseRewardSpec(json);
    if (!spec.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("prompt ", row.prompt_id, ": ", spec.status().message()));
    specs.push_back(*spec);
  }
  const int64_t total = static_cast<int64_t>(rows.size());
  for (int64_t first = 0; first < total; first += options_.prompts_per_batch) {
    const int64_t last = std::min(total, first + options_.prompts_per_batch);
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = first; i < last; ++i) {
      prompts.push_back(tokenizer_->Encode(tokenizer::RenderPrompt(
          options_.format, rows[static_cast<size_t>(i)].prompt, options_.system_prompt)));
    }
    model::GenerationOptions g = options_.generation;
    g.seed = options_.generation.seed + 1000003ull * static_cast<uint64_t>(first);
    model::Generator generator(policy_, tokenizer_, g);
    auto completions = generator.Generate(prompts, options_.samples);
    if (!completions.ok()) {
      return absl::Status(completions.status().code(),
                          absl::StrCat("prompt ", rows[static_cast<size_t>(first)].prompt_id, ": ",
                                       completions.status().message()));
    }
    report.tokens += generator.last_generated_tokens();
    std::vector<PromptAcceptance> batch(static_cast<size_t>(last - first));
    std::vector<std::set<std::string>> seen(batch.size());
    for (const model::Completion& c : *completions) {  // prompt-major, sample order
      const size_t local = static_cast<size_t>(c.prompt_index);
      const size_t index = static_cast<size_t>(first) + local;
      const learner::PromptRow& row = rows[index];
      const reward::RewardSpec& spec = specs[index];
      PromptAcceptance& acc = batch[local];
      acc.id = row.prompt_id;
      ++acc.samples;
      const reward::Grade grade = grader_->Score(c.text, spec);
      ResponseFacts facts;
      auto component = [&](const char* name, double fallback) {
        auto it = grade.components.find(name);
        return it == grade.components.end() ? fallback : it->second;
      };
      facts.accuracy = component("accuracy", 0.0);
      facts.format = component("format", 0.0);
      const std::string target = spec.cot_language.empty() ? options_.language : spec.cot_language;
      auto language = reward::LanguageConsistency(ChainOfThought(c.text), target);
      if (!language.ok()) return language.status();
      facts.language = *language;
      facts.truncated = c.finish_reason != model::FinishReason::kStop;
      facts.task_has_code = spec.kind == reward::RewardKind::kCode || HasCodeBlock(row.prompt);
      const Verdict verdict = filter.Judge(c.text, facts);
      for (const std::string& r : verdict.reasons) ++report.reasons[r];
      if (!verdict.kept) continue;
      ++acc.accepted;
      if (!seen[local].insert(DedupKey(c.text)).second) {
        ++acc.duplicates;
        continue;
      }
      if (acc.kept >= options_.keep) continue;
      ++acc.kept;
      Json out;
      out["prompt"] = row.prompt;
      out["response"] = c.text;
      out["id"] = absl::StrCat(row.prompt_id, "#", c.sample_index);
      Json reward;
      reward["total"] = grade.reward;
      for (const auto& [k, v] : grade.components) reward[k] = v;
      reward["language_consistency"] = facts.language;
      out["provenance"] = {{"source", "rejection_sample"},
                           {"prompt_id", row.prompt_id},
                           {"sample", c.sample_index},
                           {"model", options_.model_version},
                           {"temperature", options_.generation.temperature},
                           {"seed", options_.generation.seed},
                           {"tokens", c.token_ids.size()},
                           {"reward", reward}};
      report.rows.push_back(out.dump());
    }
    for (PromptAcceptance& acc : batch) {
      report.samples += acc.samples;
      report.accepted += acc.accepted;
      report.duplicates += acc.duplicates;
      report.kept += acc.kept;
      report.prompts_with_rows += acc.kept > 0;
      report.prompts.push_back(std::move(acc));
    }
    if (progress) {
      RejectionProgress p;
      p.done = last;
      p.total = total;
      p.kept = report.kept;
      p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      progress(p);
    }
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

absl::Status WriteRejectionOutputs(const RejectionReport& r, const std::string& data_path,
                                   const std::string& acceptance_path) {
  {
    std::ofstream out(data_path, std::ios::trunc);
    for (const std::string& row : r.rows) out << row << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", data_path));
  }
  Json j;
  j["prompts"] = r.prompts.size();
  j["prompts_with_rows"] = r.prompts_with_rows;
  j["samples"] = r.samples;
  j["accepted"] = r.accepted;
  j["acceptance_rate"] = r.acceptance_rate();
  j["duplicates"] = r.duplicates;
  j["kept"] = r.kept;
  j["rejected_by"] = r.reasons;
  j["tokens"] = r.tokens;
  j["seconds"] = r.seconds;
  Json per = Json::array();
  for (const PromptAcceptance& p : r.prompts) {
    per.push_back(
        {{"id", p.id},
         {"samples", p.samples},
         {"accepted", p.accepted},
         {"acceptance_rate", p.samples > 0 ? static_cast<double>(p.accepted) / p.samples : 0.0},
         {"duplicates", p.duplicates},
         {"kept", p.kept}});
  }
  j["per_prompt"] = per;
  std::ofstream out(acceptance_path, std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", acceptance_path));
  return absl::OkStatus();
}

}  // namespace r1rl::pipeline
