#include "lib/rewards/grader.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "lib/rewards/answer_extraction.h"
#include "lib/rewards/language_reward.h"
#include "lib/rewards/latex_normalize.h"

namespace r1rl::reward {
namespace {

// Exact match: trimmed, inner whitespace collapsed, case-insensitive.
std::string Squash(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string Shown(std::string_view s) {
  std::string t(s.substr(0, 60));
  return s.size() > 60 ? t + "..." : t;
}

}  // namespace

absl::StatusOr<GraderOptions> GraderOptionsFromConfig(const config::Config& cfg) {
  GraderOptions o;
  o.accuracy_weight = cfg.GetDouble("reward.accuracy_weight");
  o.format_weight = cfg.GetDouble("reward.format_weight");
  o.language_weight = cfg.GetDouble("reward.language_weight");
  const std::string style = cfg.GetString("reward.format_style");
  if (style == "r1-zero") {
    o.format_style = FormatStyle::kR1Zero;
  } else if (style == "r1-chat") {
    o.format_style = FormatStyle::kR1Chat;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.format_style = \"", style, "\": r1-zero or r1-chat"));
  }
  o.format_partial_credit = cfg.GetBool("reward.format_partial_credit");
  o.language = cfg.GetString("reward.language");
  if (auto check = LanguageConsistency("", o.language); !check.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.language = \"", o.language, "\": not a known language or script"));
  }
  const int64_t cas_ms = cfg.GetInt("reward.cas_timeout_ms");
  if (cas_ms < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("reward.cas_timeout_ms = ", cas_ms, ": must be >= 1"));
  o.math.cas_timeout = absl::Milliseconds(cas_ms);
  o.cas_workers = static_cast<int>(cfg.GetInt("reward.cas_workers"));
  if (o.cas_workers < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("reward.cas_workers = ", o.cas_workers, ": must be >= 1"));
  o.code.all_or_nothing = cfg.GetBool("reward.code_all_or_nothing");
  o.code.run_limits.cpu_seconds = cfg.GetDouble("reward.code_cpu_seconds");
  o.code.run_limits.wall_seconds = cfg.GetDouble("reward.code_wall_seconds");
  o.code.run_limits.address_space_bytes = static_cast<uint64_t>(cfg.GetInt("reward.code_memory_mb"))
                                          << 20;
  if (!(o.code.run_limits.cpu_seconds > 0) || !(o.code.run_limits.wall_seconds > 0) ||
      cfg.GetInt("reward.code_memory_mb") < 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reward.code_cpu_seconds/code_wall_seconds/code_memory_mb = ",
        o.code.run_limits.cpu_seconds, "/", o.code.run_limits.wall_seconds, "/",
        cfg.GetInt("reward.code_memory_mb"), ": seconds must be > 0 and memory >= 16 MB"));
  }
  for (auto [key, w] : {std::pair<const char*, double>{"reward.accuracy_weight", o.accuracy_weight},
                        {"reward.format_weight", o.format_weight},
                        {"reward.language_weight", o.language_weight}}) {
    if (!std::isfinite(w))
      return absl::InvalidArgumentError(absl::StrCat(key, " = ", w, ": must be finite"));
  }
  return o;
}

Grader::Grader(GraderOptions options)
    : options_(std::move(options)),
      cas_(std::make_unique<CasPool>(options_.cas_workers)),
      judge_(std::make_unique<MathJudge>(cas_.get(), options_.math)) {}

Grade Grader::Score(std::string_view response, const RewardSpec& spec) const {
  Grade g;
  double accuracy = 0.0;
  if (spec.kind == RewardKind::kCode) {
    CodeScore c = ScoreCode(response, spec, options_.code);
    accuracy = c.score;
    g.reason = c.reason.empty() ? absl::StrCat(c.passed, "/", c.total, " tests passed")
                                : absl::StrCat(c.passed, "/", c.total, " tests passed; ", c.reason);
    g.answer_source = "code";
  } else {
    ExtractedAnswer answer = ExtractAnswer(response);
    g.answer = answer.text;
    g.answer_source = AnswerSourceName(answer.source);
    if (answer.source == AnswerSource::kNone) {
      g.reason = "no final answer found";
    } else if (spec.kind == RewardKind::kMath) {
      MathJudgement j = judge_->Judge(spec.answer, answer.text);
      accuracy = j.equivalent ? 1.0 : 0.0;
      g.reason = j.equivalent ? absl::StrCat("answer [", Shown(answer.text),
                                             "] equals the reference (", j.how, ")")
                              : absl::StrCat("answer [", Shown(answer.text), "] is not [",
                                             Shown(spec.answer), "] (", j.how, ")");
    } else if (spec.kind == RewardKind::kExact) {
      accuracy = Squash(answer.text) == Squash(spec.answer) ? 1.0 : 0.0;
      g.reason = accuracy > 0 ? "exact match"
                              : absl::StrCat("answer [", Shown(answer.text), "] does not match");
    } else {
      const char want = ChoiceLetter(spec.answer), got = ChoiceLetter(answer.text);
      accuracy = want != 0 && want == got ? 1.0 : 0.0;
      g.reason = accuracy > 0 ? absl::StrCat("choice ", std::string(1, got))
                              : absl::StrCat("choice [", Shown(answer.text), "] is not ",
                                             std::string(1, want ? want : '?'));
    }
  }
  g.components["accuracy"] = accuracy;
  g.reward = options_.accuracy_weight * accuracy;
  if (options_.format_weight != 0.0) {
    FormatScore f = ScoreFormat(response, options_.format_style, options_.format_partial_credit);
    g.components["format"] = f.score;
    g.reward += options_.format_weight * f.score;
    if (!f.reason.empty()) absl::StrAppend(&g.reason, "; format: ", f.reason);
  }
  if (options_.language_weight != 0.0) {
    const std::string target = spec.cot_language.empty() ? options_.language : spec.cot_language;
    auto lang = LanguageConsistency(ChainOfThought(response), target);
    const double v = lang.ok() ? *lang : 0.0;
    g.components["language"] = v;
    g.reward += options_.language_weight * v;
    if (!lang.ok()) absl::StrAppend(&g.reason, "; language: ", lang.status().message());
  }
  return g;
}

}  // namespace r1rl::reward
