#include "lib/eval/evaluator.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "lib/model/policy.h"
#include "lib/rewards/cas.h"
#include "lib/rewards/math_equivalence.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::eval {

using Clock = std::chrono::steady_clock;

Evaluator::Evaluator(model::Policy* policy, const tokenizer::Tokenizer* tokenizer,
                     const reward::Grader* grader, EvaluatorOptions options)
    : policy_(policy), tokenizer_(tokenizer), grader_(grader), options_(std::move(options)) {}

EvalSummary Summarise(const std::vector<const ProblemResult*>& problems) {
  EvalSummary s;
  double samples = 0;
  for (const ProblemResult* p : problems) {
    ++s.problems;
    s.pass_at_1 += p->pass_at_1;
    s.pass_at_k += p->pass_at_k;
    s.cons_at_k += p->cons_correct ? 1.0 : 0.0;
    for (size_t i = 0; i < p->responses.size(); ++i) {
      ++samples;
      s.mean_length += static_cast<double>(p->lengths[i]);
      s.format_rate += p->format[i];
      s.truncated += p->finish[i] == "length" ? 1.0 : 0.0;
      s.no_answer += p->answers[i].empty() ? 1.0 : 0.0;
    }
  }
  if (s.problems > 0) {
    const double n = static_cast<double>(s.problems);
    s.pass_at_1 /= n;
    s.pass_at_k /= n;
    s.cons_at_k /= n;
  }
  if (samples > 0) {
    s.mean_length /= samples;
    s.format_rate /= samples;
    s.truncated /= samples;
    s.no_answer /= samples;
  }
  return s;
}

absl::StatusOr<EvalReport> Evaluator::Run(
    const EvalSet& set, const std::function<void(const EvalProgress&)>& progress) {
  if (options_.k < 1 || options_.k > 1024)
    return absl::InvalidArgumentError(absl::StrCat("k = ", options_.k, ": must be in 1..1024"));
  if (options_.problems_per_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("problems_per_batch = ", options_.problems_per_batch, ": must be >= 1"));
  }
  reward::CasPool cas(1);  // answers against each other, for the vote
  reward::MathJudge judge(&cas);
  auto same = [&](const std::string& a, const std::string& b) {
    return a == b || judge.Judge(a, b).equivalent;
  };
  EvalReport report;
  report.k = options_.k;
  const auto start = Clock::now();
  const int64_t total = static_cast<int64_t>(set.problems.size());
  double pass_sum = 0;
  for (int64_t first = 0; first < total; first += options_.problems_per_batch) {
    const int64_t last = std::min(total, first + options_.problems_per_batch);
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = first; i < last; ++i) {
      prompts.push_back(tokenizer_->Encode(tokenizer::RenderPrompt(
          options_.format, set.problems[static_cast<size_t>(i)].question, options_.system_prompt)));
    }
    // Draws depend on (seed, prompt index, sample index): offset the seed by the batch's
    // first problem so each problem keeps its own stream whatever the batch size.
    model::GenerationOptions g = options_.generation;
    g.seed = options_.generation.seed + 1000003ull * static_cast<uint64_t>(first);
    model::Generator generator(policy_, tokenizer_, g);
    auto completions = generator.Generate(prompts, options_.k);
    if (!completions.ok()) {
      return absl::Status(completions.status().code(),
                          absl::StrCat("problem ", set.problems[static_cast<size_t>(first)].id,
                                       ": ", completions.status().message()));
    }
    report.tokens += generator.last_generated_tokens();
    std::vector<ProblemResult> batch(static_cast<size_t>(last - first));
    for (int64_t i = first; i < last; ++i)
      batch[static_cast<size_t>(i - first)].problem = set.problems[static_cast<size_t>(i)];
    for (const model::Completion& c : *completions) {
      ProblemResult& r = batch[static_cast<size_t>(c.prompt_index)];
      reward::RewardSpec spec;
      spec.kind = reward::RewardKind::kMath;
      spec.answer = r.problem.answer;
      const reward::Grade grade = grader_->Score(c.text, spec);
      r.responses.push_back(c.text);
      r.answers.push_back(grade.answer_source == "none" ? "" : grade.answer);
      r.correct.push_back(grade.components.at("accuracy") >= 1.0);
      auto f = grade.components.find("format");
      r.format.push_back(f == grade.components.end() ? 0.0 : f->second);
      r.lengths.push_back(static_cast<int64_t>(c.token_ids.size()));
      r.finish.push_back(model::FinishReasonName(c.finish_reason));
    }
    for (ProblemResult& r : batch) {
      r.pass_at_1 = PassAt1(r.correct);
      const int c = static_cast<int>(std::count(r.correct.begin(), r.correct.end(), true));
      r.pass_at_k = PassAtK(static_cast<int>(r.correct.size()), c, options_.k);
      r.vote = MajorityVote(r.answers, same);
      r.cons_correct =
          ConsensusCorrect(r.vote, r.answers, r.correct);  // the winner was graded already
      pass_sum += r.pass_at_1;
      report.problems.push_back(std::move(r));
    }
    if (progress) {
      EvalProgress p;
      p.done = last;
      p.total = total;
      p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      p.pass_at_1 = pass_sum / static_cast<double>(last);
      progress(p);
    }
  }
  std::vector<const ProblemResult*> all;
  std::map<std::string, std::vector<const ProblemResult*>> subjects, levels;
  for (const ProblemResult& r : report.problems) {
    all.push_back(&r);
    if (!r.problem.subject.empty()) subjects[r.problem.subject].push_back(&r);
    if (!r.problem.level.empty()) levels[r.problem.level].push_back(&r);
  }
  report.overall = Summarise(all);
  for (const auto& [k, v] : subjects) report.by_subject[k] = Summarise(v);
  for (const auto& [k, v] : levels) report.by_level[k] = Summarise(v);
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace r1rl::eval
