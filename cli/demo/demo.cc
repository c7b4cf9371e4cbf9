#include "cli/demo/demo.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/demo/arithmetic_task.h"
#include "cli/demo/svg_plot.h"
#include "lib/model/causal_lm.h"
#include "lib/model/generator.h"
#include "lib/model/policy.h"
#include "lib/runtime/blocking_queue.h"
#include "lib/status/status_macros.h"
#include "lib/training/checkpoint.h"
#include "lib/training/grpo_loop.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/learner_config.h"
#include "lib/training/metrics_json.h"
#include "lib/training/sft_trainer.h"

namespace r1rl::demo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

constexpr int32_t kPadId = 0;  // CharTokenizer's special tokens: <pad> <bos> <eos> ...
constexpr int32_t kBosId = 1;
constexpr int32_t kEosId = 2;

model::ModelConfig DemoModelConfig(const DemoOptions& o, int64_t vocab) {
  model::ModelConfig c;
  c.model_type = "qwen2";
  c.architectures = {"Qwen2ForCausalLM"};
  c.vocab_size = vocab;
  c.hidden_size = o.hidden_size;
  c.intermediate_size = o.intermediate_size;
  c.num_hidden_layers = o.layers;
  c.num_attention_heads = o.heads;
  c.num_key_value_heads = o.heads;
  c.head_dim = o.hidden_size / o.heads;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.bos_token_id = kBosId;
  c.eos_token_ids = {kEosId};
  return c;
}

// A model folder (no checkpoint state): what --pretrain writes into assets/demo-base.
absl::Status SaveModelFolder(const model::Policy& policy, const tokenizer::CharTokenizer& tok,
                             const std::string& dir) {
  RETURN_IF_ERROR(policy.Save(dir));
  return tok.Save(dir + "/tokenizer.json");
}

struct EvalResult {
  double accuracy = 0.0, format = 0.0, length = 0.0;
  double think_share = 0.0;     // completions that wrote the scratchpad
  double think_accuracy = 0.0;  // accuracy among those (0 when none did)
};

// Greedy decoding on `problems`.
absl::StatusOr<EvalResult> Evaluate(model::Policy* policy, const tokenizer::Tokenizer& tok,
                                    const std::vector<Problem>& problems, int64_t max_new_tokens) {
  model::GenerationOptions g;
  g.greedy = true;
  g.max_new_tokens = max_new_tokens;
  g.max_batch = 256;
  model::Generator gen(policy, &tok, g);
  std::vector<std::vector<int32_t>> prompts;
  for (const Problem& p : problems) prompts.push_back(tok.Encode(ArithmeticTask::PromptText(p)));
  ASSIGN_OR_RETURN(auto completions, gen.Generate(prompts, 1));
  EvalResult r;
  for (const model::Completion& c : completions) {
    Grade grade = GradeCompletion(problems[c.prompt_index], c.text);
    if (c.finish_reason != model::FinishReason::kStop) grade.format = 0.0;
    r.accuracy += grade.accuracy;
    r.format += grade.format;
    r.length += static_cast<double>(c.token_ids.size());
    if (WroteScratchpad(c.text)) {
      r.think_share += 1;
      r.think_accuracy += grade.accuracy;
    }
  }
  const double n = static_cast<double>(completions.size());
  r.think_accuracy = r.think_share > 0 ? r.think_accuracy / r.think_share : 0.0;
  r.think_share /= n;
  r.accuracy /= n;
  r.format /= n;
  r.length /= n;
  return r;
}

learner::OptimizerOptions AdamW(double lr, int64_t steps, int64_t warmup) {
  learner::OptimizerOptions o;
  o.schedule.peak = lr;
  o.schedule.total_steps = steps;
  o.schedule.warmup_steps = warmup;
  o.schedule.kind = learner::LrScheduleKind::kCosine;
  o.schedule.min_ratio = 0.1;
  o.weight_decay = 0.01;
  o.max_grad_norm = 1.0;
  return o;
}

std::string Bar(int64_t done, int64_t total, int width = 20) {
  const int64_t filled = total > 0 ? done * width / total : width;
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '-'), "]");
}

// Stage 1: next-token pre-training on the task's text mixture, short and long texts in
// separate micro-batches (length bucketing) so padding costs little.
absl::Status Pretrain(const DemoOptions& o, const ArithmeticTask& task,
                      const tokenizer::Tokenizer& tok, model::Policy* policy, std::ostream& out) {
  learner::SftTrainer trainer(policy, AdamW(o.pretrain_lr, o.pretrain_steps, 20), kPadId);
  std::mt19937_64 rng(o.seed * 7919 + 1);
  const auto start = Clock::now();
  for (int64_t step = 0; step < o.pretrain_steps; ++step) {
    std::vector<learner::SftExample> batch(o.pretrain_batch);
    for (auto& ex : batch) {
      Problem p = task.SampleTrain(rng);
      std::vector<int32_t> ids = tok.Encode(
          ArithmeticTask::PromptText(p) +
          ArithmeticTask::CompletionText(p, ArithmeticTask::SampleKind(o.mix, rng), rng));
      ex.prompt_ids = {ids[0]};
      ex.response_ids.assign(ids.begin() + 1, ids.end());
    }
    std::sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) {
      return a.response_ids.size() < b.response_ids.size();
    });
    ASSIGN_OR_RETURN(learner::Metrics m, trainer.Step(batch, (o.pretrain_batch + 1) / 2));
    if ((step + 1) % 50 == 0 || step + 1 == o.pretrain_steps) {
      out << absl::StrFormat("  pretrain %s %4d/%d  loss %.4f  lr %.2e  %.0f s\n",
                             Bar(step + 1, o.pretrain_steps), step + 1, o.pretrain_steps, m["loss"],
                             m["lr"], Since(start))
          << std::flush;
    }
  }
  return absl::OkStatus();
}

absl::Status ColdStartSft(const DemoOptions& o, const ArithmeticTask& task,
                          const tokenizer::Tokenizer& tok, model::Policy* policy,
                          std::ostream& out) {
  std::mt19937_64 rng(o.seed * 104729 + 2);
  std::vector<learner::SftExample> data(o.sft_examples);
  for (auto& ex : data) {
    Problem p = task.SampleTrain(rng);
    ex.prompt_ids = tok.Encode(ArithmeticTask::PromptText(p));
    const bool think =
        std::uniform_real_distribution<double>(0.0, 1.0)(rng) < o.sft_scratchpad_share;
    ex.response_ids = tok.Encode(ArithmeticTask::CompletionText(
        p, think ? TextKind::kScratchpad : TextKind::kDirectAnswer, rng));
  }
  learner::SftTrainer trainer(policy, AdamW(o.sft_lr, o.sft_steps, 0), kPadId);
  const auto start = Clock::now();
  for (int64_t step = 0; step < o.sft_steps; ++step) {
    std::vector<learner::SftExample> batch;
    for (int64_t i = 0; i < o.sft_batch; ++i)
      batch.push_back(data[(step * o.sft_batch + i) % data.size()]);
    ASSIGN_OR_RETURN(learner::Metrics m, trainer.Step(batch));
    if ((step + 1) % 10 == 0 || step + 1 == o.sft_steps) {
      out << absl::StrFormat("  sft %s %3d/%d  loss %.4f  %.0f s\n", Bar(step + 1, o.sft_steps),
                             step + 1, o.sft_steps, m["loss"], Since(start))
          << std::flush;
    }
  }
  return absl::OkStatus();
}

// One step's worth of graded completions from the sampler.
struct SampledBatch {
  std::vector<learner::Rollout> rollouts;
  std::vector<Problem> problems;  // one per group
  std::vector<model::Completion> completions;
  int64_t groups_dropped = 0;
  int64_t generated_tokens = 0;
  double sample_seconds = 0.0;
  learner::Metrics stats;  // reward/… and response statistics (filled by the grader)
};

// Grades completions: reward = format + accuracy (+ overlong penalty), and the reward
// statistics of the step.
void GradeBatch(const DemoOptions& o, SampledBatch* batch) {
  double fmt = 0, acc = 0, len = 0, len_max = 0, trunc = 0, fmt_wrong = 0, no_answer = 0, rsum = 0,
         rsq = 0, think = 0, fmt_sq = 0;
  for (size_t i = 0; i < batch->completions.size(); ++i) {
    const model::Completion& c = batch->completions[i];
    learner::Rollout& r = batch->rollouts[i];
    Grade g = GradeCompletion(batch->problems[i / o.group_size], c.text);
    const bool truncated = c.finish_reason != model::FinishReason::kStop;
    if (truncated) g.format = 0.0;
    r.truncated = truncated;
    r.reward_components["format"] = g.format;
    r.reward_components["accuracy"] = g.accuracy;
    double overlong = learner::OverlongPenalty(static_cast<int64_t>(c.token_ids.size()),
                                               o.max_new_tokens, o.overlong_cache_length);
    r.reward_components["overlong"] = overlong;
    r.reward = g.format + g.accuracy + overlong;
    fmt += g.format;
    fmt_sq += g.format * g.format;
    acc += g.accuracy;  // 0/1, so its square sums to the same
    len += c.token_ids.size();
    len_max = std::max<double>(len_max, c.token_ids.size());
    trunc += truncated;
    fmt_wrong += g.format > 0 && g.accuracy == 0;
    no_answer += !g.answer_found;
    think += WroteScratchpad(c.text);
    rsum += r.reward;
    rsq += r.reward * r.reward;
  }
  const double n = std::max<size_t>(1, batch->completions.size());
  auto& s = batch->stats;
  s["reward"] = rsum / n;
  s["reward_std"] = std::sqrt(std::max(0.0, rsq / n - (rsum / n) * (rsum / n)));
  s["reward/format"] = fmt / n;
  s["reward/accuracy"] = acc / n;
  auto stddev = [&](double sum, double sq) {
    return std::sqrt(std::max(0.0, sq / n - (sum / n) * (sum / n)));
  };
  s["reward/format_std"] = stddev(fmt, fmt_sq);
  s["reward/accuracy_std"] = stddev(acc, acc);
  s["accuracy"] = acc / n;
  s["response_length"] = len / n;
  s["response_length_max"] = len_max;
  s["truncation_ratio"] = trunc / n;
  s["scratchpad_share"] = think / n;
  s["integrity/format_without_correct_answer"] = fmt_wrong / n;
  s["integrity/answer_extraction_failures"] = no_answer / n;
}

// Whether a group's format + accuracy rewards differ (the dynamic-sampling test).
bool GroupHasSignal(const Problem& problem, const std::vector<model::Completion>& completions,
                    int64_t first, int64_t size) {
  std::vector<double> rewards;
  for (int64_t k = first; k < first + size; ++k) {
    const model::Completion& c = completions[k];
    Grade g = GradeCompletion(problem, c.text);
    rewards.push_back(g.accuracy + (c.finish_reason == model::FinishReason::kStop ? g.format : 0));
  }
  return learner::GroupHasSignal(rewards);
}

// Weights the sampler should use, published by the learner after each step.
struct WeightBoard {
  std::mutex mu;
  std::condition_variable cv;
  int64_t version = 0;  // learner steps done
  bool stop = false;
};

absl::Status SampleLoop(const DemoOptions& o, const ArithmeticTask& task,
                        const tokenizer::Tokenizer& tok, model::Policy* learner_policy,
                        model::Policy* sampler_policy, WeightBoard* board,
                        runtime::BlockingQueue<SampledBatch>* out) {
  std::mt19937_64 rng(o.seed * 15485863 + 3);
  int64_t have_version = -1;
  for (int64_t step = 0; step < o.grpo_steps; ++step) {
    {
      std::unique_lock<std::mutex> lock(board->mu);
      board->cv.wait(lock,
                     [&] { return board->stop || board->version >= step - o.max_policy_lag; });
      if (board->stop) return absl::OkStatus();
      if (have_version != board->version) {
        learner::CopyWeights(*learner_policy, sampler_policy);
        have_version = board->version;
      }
    }
    SampledBatch batch;
    const auto start = Clock::now();
    for (int64_t round = 0; round <= (o.dynamic_sampling ? o.max_resample_rounds : 0); ++round) {
      const int64_t need = o.prompts_per_step - static_cast<int64_t>(batch.problems.size());
      if (need <= 0) break;
      std::vector<Problem> problems;
      std::vector<std::vector<int32_t>> prompts;
      for (int64_t i = 0; i < need; ++i) {
        problems.push_back(task.SampleTrain(rng));
        prompts.push_back(tok.Encode(ArithmeticTask::PromptText(problems.back())));
      }
      model::GenerationOptions g;
      g.temperature = o.temperature;
      g.max_new_tokens = o.max_new_tokens;
      g.seed = o.seed * 1000003 + step * 31 + round;
      g.max_batch = 256;
      model::Generator gen(sampler_policy, &tok, g);
      ASSIGN_OR_RETURN(auto completions, gen.Generate(prompts, o.group_size));
      batch.generated_tokens += gen.last_generated_tokens();
      for (int64_t p = 0; p < need; ++p) {
        // Dynamic sampling grades here only to decide which groups to keep; the grader
        // thread computes the rewards the learner uses.
        const bool last_round = round == o.max_resample_rounds;
        if (o.dynamic_sampling && !last_round &&
            !GroupHasSignal(problems[p], completions, p * o.group_size, o.group_size)) {
          ++batch.groups_dropped;
          continue;
        }
        batch.problems.push_back(problems[p]);
        for (int64_t k = 0; k < o.group_size; ++k) {
          model::Completion& c = completions[p * o.group_size + k];
          learner::Rollout r;
          r.group_id = static_cast<int64_t>(batch.problems.size()) - 1;
          r.prompt_ids = prompts[p];
          r.completion_ids = c.token_ids;
          r.behaviour_logprobs = c.logprobs;
          r.policy_version = have_version;
          batch.rollouts.push_back(std::move(r));
          batch.completions.push_back(std::move(c));
        }
        if (static_cast<int64_t>(batch.problems.size()) == o.prompts_per_step) break;
      }
    }
    batch.sample_seconds = Since(start);
    if (!out->Push(std::move(batch))) return absl::OkStatus();
  }
  return absl::OkStatus();
}

// The demo's rollouts: a sampler thread (its own copy of the weights, refreshed when the
// learner publishes a version; at most max_policy_lag versions behind) and a grader thread,
// joined by bounded queues.
class ThreadedSource : public learner::RolloutSource {
 public:
  ThreadedSource(const DemoOptions& o, const ArithmeticTask& task, const tokenizer::Tokenizer& tok,
                 model::Policy* policy, model::Policy* sampler_policy)
      : o_(o), sampled_(std::max<int64_t>(1, o.max_policy_lag)), graded_(1) {
    sampler_ = std::thread([this, &task, &tok, policy, sampler_policy] {
      sampler_status_ = SampleLoop(o_, task, tok, policy, sampler_policy, &board_, &sampled_);
      sampled_.Close();
    });
    grader_ = std::thread([this] {
      while (auto batch = sampled_.Pop()) {
        GradeBatch(o_, &*batch);
        if (!graded_.Push(std::move(*batch))) break;
      }
      graded_.Close();
    });
  }
  ~ThreadedSource() override { Stop().IgnoreError(); }  // Run reported it already

  absl::StatusOr<std::optional<learner::RolloutBatch>> Next(
      int64_t, const std::function<absl::Status()>&) override {
    std::optional<SampledBatch> b = graded_.Pop();
    if (!b) {
      RETURN_IF_ERROR(sampler_status_);
      return std::nullopt;
    }
    learner::RolloutBatch out;
    out.rollouts = std::move(b->rollouts);
    out.group_size = o_.group_size;
    out.stats = std::move(b->stats);
    out.stats["groups_dropped"] = static_cast<double>(b->groups_dropped);
    out.stats["sample_seconds"] = b->sample_seconds;
    out.stats["tokens_per_second"] =
        static_cast<double>(b->generated_tokens) / std::max(1e-9, b->sample_seconds);
    return out;
  }

  absl::Status Trained(int64_t version, const learner::RolloutBatch&) override {
    {
      std::lock_guard<std::mutex> lock(board_.mu);
      board_.version = version;
    }
    board_.cv.notify_all();
    return absl::OkStatus();
  }

  std::mutex* weights_mutex() override { return &board_.mu; }

  // Stops and joins the threads; the sampler's error, if any.
  absl::Status Stop() {
    if (!sampler_.joinable()) return sampler_status_;
    {
      std::lock_guard<std::mutex> lock(board_.mu);
      board_.stop = true;
    }
    board_.cv.notify_all();
    graded_.Close();
    sampled_.Close();
    sampler_.join();
    grader_.join();
    return sampler_status_;
  }

 private:
  const DemoOptions& o_;
  WeightBoard board_;
  runtime::BlockingQueue<SampledBatch> sampled_, graded_;
  absl::Status sampler_status_;
  std::thread sampler_, grader_;
};

}  // namespace

absl::StatusOr<DemoOptions> DemoOptionsFromConfig(const config::Config& cfg) {
  DemoOptions o;
  ASSIGN_OR_RETURN(o.trainer, learner::GrpoOptionsFromConfig(cfg));
  // The sampler thread runs while the learner steps: both keep runtime.threads unless asked.
  if (o.trainer.threads == 0) o.trainer.threads = -1;
  o.run_dir = cfg.GetString("demo.run_dir");
  o.seed = static_cast<uint64_t>(cfg.GetInt("demo.seed"));
  o.base_checkpoint = cfg.GetString("demo.base_checkpoint");
  o.pretrain_steps = cfg.GetInt("demo.pretrain_steps");
  o.pretrain_lr = cfg.GetDouble("demo.pretrain_lr");
  o.mix.scratchpad = cfg.GetDouble("demo.mix_scratchpad");
  o.mix.corrupted = cfg.GetDouble("demo.mix_corrupted");
  o.mix.direct = cfg.GetDouble("demo.mix_direct");
  o.sft_scratchpad_share = cfg.GetDouble("demo.sft_scratchpad_share");
  o.sft_examples = cfg.GetInt("sft.examples");
  o.sft_steps = cfg.GetInt("sft.steps");
  o.sft_batch = cfg.GetInt("sft.batch_size");
  o.sft_lr = cfg.GetDouble("sft.lr");
  o.grpo_steps = cfg.GetInt("grpo.steps");
  o.prompts_per_step = cfg.GetInt("grpo.prompts_per_step");
  o.group_size = cfg.GetInt("generation.num_samples");
  o.max_new_tokens = cfg.GetInt("generation.max_new_tokens");
  o.temperature = cfg.GetDouble("generation.temperature");
  o.dynamic_sampling = cfg.GetBool("grpo.dynamic_sampling");
  o.overlong_cache_length = cfg.GetInt("grpo.overlong_cache_length");
  o.max_policy_lag = cfg.GetInt("grpo.max_policy_lag");
  o.eval_every = cfg.GetInt("demo.eval_every");
  o.select_best = cfg.GetBool("demo.select_best");
  o.test_size = cfg.GetInt("demo.test_problems");
  o.validation_size = cfg.GetInt("demo.validation_problems");
  auto bad = [](const std::string& key, int64_t v, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat(key, " = ", v, ": ", rule));
  };
  if (o.group_size < 2)
    return bad("generation.num_samples", o.group_size, "GRPO needs a group of at least 2");
  if (o.prompts_per_step < 1)
    return bad("grpo.prompts_per_step", o.prompts_per_step, "must be >= 1");
  if (o.grpo_steps < 0) return bad("grpo.steps", o.grpo_steps, "must be >= 0");
  if (o.max_new_tokens < 1 || o.max_new_tokens > 54) {
    return bad("generation.max_new_tokens", o.max_new_tokens,
               "the demo model's context allows 1..54");
  }
  if (o.max_policy_lag < 0) return bad("grpo.max_policy_lag", o.max_policy_lag, "must be >= 0");
  if (o.pretrain_steps < 0) return bad("demo.pretrain_steps", o.pretrain_steps, "must be >= 0");
  if (o.sft_steps < 0 || o.sft_examples < 1 || o.sft_batch < 1) {
    return bad("sft.steps/examples/batch_size", o.sft_steps,
               "steps >= 0, examples and batch_size >= 1");
  }
  for (const auto& [key, v] :
       {std::pair<const char*, double>{"demo.mix_scratchpad", o.mix.scratchpad},
        {"demo.mix_corrupted", o.mix.corrupted},
        {"demo.mix_direct", o.mix.direct},
        {"demo.sft_scratchpad_share", o.sft_scratchpad_share}}) {
    if (!(v >= 0.0 && v <= 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(key, " = ", v, ": a share must be in [0, 1]"));
    }
  }
  if (o.mix.scratchpad + o.mix.corrupted + o.mix.direct > 1.0 + 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat(
        "demo.mix_scratchpad + demo.mix_corrupted + demo.mix_direct = ",
        o.mix.scratchpad + o.mix.corrupted + o.mix.direct, ": the shares must sum to at most 1"));
  }
  if (o.eval_every < 1) return bad("demo.eval_every", o.eval_every, "must be >= 1");
  if (o.test_size < 1 || o.validation_size < 1) {
    return bad("demo.test_problems/validation_problems", std::min(o.test_size, o.validation_size),
               "must be >= 1");
  }
  return o;
}

absl::Status PretrainBase(const DemoOptions& o, const std::string& dir, std::ostream& out) {
  ArithmeticTask task(o.seed, o.test_size, o.validation_size);
  auto tok = ArithmeticTask::MakeTokenizer();
  ASSIGN_OR_RETURN(auto policy,
                   model::Policy::RandomInit(DemoModelConfig(o, tok->vocab_size()), o.seed, {}));
  out << absl::StrFormat("[1/1] pre-training the base model (%d parameters, %d steps)\n",
                         policy->config().NumParameters(), o.pretrain_steps);
  RETURN_IF_ERROR(Pretrain(o, task, *tok, policy.get(), out));
  ASSIGN_OR_RETURN(EvalResult e, Evaluate(policy.get(), *tok, task.test(), o.max_new_tokens));
  out << absl::StrFormat(
      "  base model: held-out accuracy %.3f, format %.3f, scratchpad written %.3f (accuracy %.3f "
      "when written)\n",
      e.accuracy, e.format, e.think_share, e.think_accuracy);
  return SaveModelFolder(*policy, *tok, dir);
}

absl::StatusOr<DemoResult> RunDemo(const DemoOptions& o, const std::string& config_yaml,
                                   std::ostream& out) {
  const auto run_start = Clock::now();
  std::error_code ec;
  fs::create_directories(o.run_dir + "/checkpoints", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", o.run_dir, ": ", ec.message()));
  {
    std::ofstream cfg(o.run_dir + "/config.yaml");
    cfg << config_yaml;
  }
  std::ofstream metrics_file(o.run_dir + "/metrics.jsonl", std::ios::trunc);
  if (!metrics_file)
    return absl::InternalError(absl::StrCat("cannot write ", o.run_dir, "/metrics.jsonl"));

  ArithmeticTask task(o.seed, o.test_size, o.validation_size);
  auto tok = ArithmeticTask::MakeTokenizer();
  const model::ModelConfig mcfg = DemoModelConfig(o, tok->vocab_size());
  const int stages = o.zero ? 2 : 3;
  const std::string tokenizer_path = o.run_dir + "/tokenizer.json";
  RETURN_IF_ERROR(tok->Save(tokenizer_path));
  const learner::CheckpointStore store(o.run_dir + "/checkpoints", /*keep=*/3);

  // Stage 1: the base model.
  std::unique_ptr<model::Policy> policy;
  if (!o.base_checkpoint.empty()) {
    if (!fs::exists(o.base_checkpoint + "/config.json")) {
      return absl::NotFoundError(
          absl::StrCat("demo.base_checkpoint = ", o.base_checkpoint, ": no config.json there"));
    }
    out << "[1/" << stages << "] loading the base model from " << o.base_checkpoint << "\n";
    ASSIGN_OR_RETURN(policy, model::Policy::Load(o.base_checkpoint, {}));
    if (policy->config().vocab_size != mcfg.vocab_size ||
        policy->config().hidden_size != mcfg.hidden_size ||
        policy->config().num_hidden_layers != mcfg.num_hidden_layers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "demo.base_checkpoint ", o.base_checkpoint, " has another model shape than the demo's (",
          "hidden ", policy->config().hidden_size, ", layers ", policy->config().num_hidden_layers,
          ", vocab ", policy->config().vocab_size, ")"));
    }
  } else {
    ASSIGN_OR_RETURN(policy, model::Policy::RandomInit(mcfg, o.seed, {}));
    out << absl::StrFormat(
               "[1/%d] pre-training the base model (%d parameters, %d steps of %d texts)\n", stages,
               mcfg.NumParameters(), o.pretrain_steps, o.pretrain_batch)
        << std::flush;
    RETURN_IF_ERROR(Pretrain(o, task, *tok, policy.get(), out));
  }
  auto save_stage = [&](const std::string& name) {
    learner::CheckpointState state;
    state.seed = o.seed;
    return store.Save(name, {policy.get(), nullptr, nullptr, tokenizer_path}, state).status();
  };
  RETURN_IF_ERROR(save_stage("base"));
  ASSIGN_OR_RETURN(EvalResult base, Evaluate(policy.get(), *tok, task.test(), o.max_new_tokens));
  out << absl::StrFormat(
             "  base model: held-out accuracy %.3f, format %.3f, length %.1f, scratchpad written "
             "%.3f "
             "(accuracy %.3f when written)  (%.0f s)\n",
             base.accuracy, base.format, base.length, base.think_share, base.think_accuracy,
             Since(run_start))
      << std::flush;

  // Stage 2: cold start.
  if (!o.zero) {
    out << absl::StrFormat("[2/%d] cold-start SFT on %d formatted examples\n", stages,
                           o.sft_examples);
    RETURN_IF_ERROR(ColdStartSft(o, task, *tok, policy.get(), out));
    RETURN_IF_ERROR(save_stage("sft"));
  }

  // Stage 3: GRPO.
  out << absl::StrFormat(
      "[%d/%d] GRPO: %d steps x %d prompts x %d samples, rewards format + accuracy%s\n", stages,
      stages, o.grpo_steps, o.prompts_per_step, o.group_size,
      o.zero ? " (R1-Zero: from the base model)" : "");
  learner::GrpoTrainerOptions topt = o.trainer;
  topt.temperature = o.temperature;
  topt.pad_id = kPadId;
  topt.optimizer.schedule.total_steps = o.grpo_steps * topt.ppo_epochs * topt.mini_batches;
  ASSIGN_OR_RETURN(auto trainer, learner::GrpoTrainer::Create(policy.get(), topt));
  ASSIGN_OR_RETURN(auto sampler_policy, model::Policy::RandomInit(mcfg, 0, {}));

  DemoResult result;
  std::vector<Series> plot = {{"reward (format + accuracy)", {}, false},
                              {"held-out accuracy (greedy)", {}, true},
                              {"response length (tokens)", {}, false},
                              {"KL to reference", {}, false}};
  double best_val = -1.0;
  std::vector<torch::Tensor> best_weights;
  auto evaluate_step = [&](int64_t step, learner::Metrics* m) -> absl::Status {
    const auto eval_start = Clock::now();
    ASSIGN_OR_RETURN(EvalResult test, Evaluate(policy.get(), *tok, task.test(), o.max_new_tokens));
    ASSIGN_OR_RETURN(EvalResult val,
                     Evaluate(policy.get(), *tok, task.validation(), o.max_new_tokens));
    (*m)["heldout_accuracy"] = test.accuracy;
    (*m)["heldout_format"] = test.format;
    (*m)["heldout_response_length"] = test.length;
    (*m)["heldout_scratchpad_share"] = test.think_share;
    (*m)["heldout_scratchpad_accuracy"] = test.think_accuracy;
    (*m)["validation_accuracy"] = val.accuracy;
    (*m)["eval_seconds"] = Since(eval_start);
    plot[1].points.emplace_back(step, test.accuracy);
    if (val.accuracy > best_val) {
      best_val = val.accuracy;
      result.selected_step = step;
      result.heldout_after = test.accuracy;
      result.format_after = test.format;
      best_weights.clear();
      for (const auto& p : policy->lm().parameters()) best_weights.push_back(p.detach().clone());
    }
    if (!o.select_best) {
      result.selected_step = step;
      result.heldout_after = test.accuracy;
      result.format_after = test.format;
    }
    return absl::OkStatus();
  };

  learner::Metrics first;
  first["step"] = 0;
  RETURN_IF_ERROR(evaluate_step(0, &first));
  result.heldout_before = first["heldout_accuracy"];
  out << absl::StrFormat(
      "  step 0: held-out accuracy %.3f, format %.3f, scratchpad written %.3f, validation %.3f\n",
      first["heldout_accuracy"], first["heldout_format"], first["heldout_scratchpad_share"],
      first["validation_accuracy"]);
  metrics_file << learner::MetricsJsonLine(first) << "\n" << std::flush;

  learner::GrpoLoopOptions lo;
  lo.steps = o.grpo_steps;
  lo.seed = o.seed;
  lo.checkpoint_root = o.run_dir + "/checkpoints";
  lo.checkpoint_every = 0;  // minutes long: the final checkpoint only
  lo.tokenizer_path = tokenizer_path;
  learner::GrpoLoopHooks hooks;
  const auto grpo_start = Clock::now();
  std::mutex* weights_mu = nullptr;
  hooks.on_step = [&](int64_t step, learner::Metrics& mm) -> absl::Status {
    if (step % o.eval_every == 0 || step == o.grpo_steps) {
      std::lock_guard<std::mutex> lock(*weights_mu);
      RETURN_IF_ERROR(evaluate_step(step, &mm));
      mm["step_seconds"] += mm["eval_seconds"];
    }
    plot[0].points.emplace_back(step, mm["reward"]);
    plot[2].points.emplace_back(step, mm["response_length"]);
    plot[3].points.emplace_back(step, mm["kl"]);
    metrics_file << learner::MetricsJsonLine(mm) << "\n" << std::flush;
    const double elapsed = Since(grpo_start);
    out << absl::StrFormat("  %s %3d/%d  reward %.2f  acc %.2f  len %4.1f  kl %.4f  %.2f s/step",
                           Bar(step, o.grpo_steps), step, o.grpo_steps, mm["reward"],
                           mm["accuracy"], mm["response_length"], mm["kl"], elapsed / step);
    if (mm.count("heldout_accuracy")) {
      out << absl::StrFormat("  | held-out %.3f, scratchpad %.2f (validation %.3f)",
                             mm["heldout_accuracy"], mm["heldout_scratchpad_share"],
                             mm["validation_accuracy"]);
    }
    out << "\n" << std::flush;
    return absl::OkStatus();
  };
  // The final checkpoint holds the weights of the step chosen on the validation split.
  hooks.before_final = [&]() -> absl::Status {
    if (o.select_best && !best_weights.empty()) {
      torch::NoGradGuard no_grad;
      auto params = policy->lm().parameters();
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_weights[i]);
    }
    return absl::OkStatus();
  };
  std::string final_dir;
  {
    ThreadedSource source(o, task, *tok, policy.get(), sampler_policy.get());
    weights_mu = source.weights_mutex();
    learner::GrpoLoop loop(policy.get(), trainer.get(), &source, lo, hooks);
    absl::StatusOr<learner::GrpoLoopResult> ran = loop.Run();
    const absl::Status sampler = source.Stop();
    RETURN_IF_ERROR(ran.status());
    RETURN_IF_ERROR(sampler);
    final_dir = ran->final_checkpoint;
  }
  result.seconds = Since(run_start);

  {
    std::ofstream svg(o.run_dir + "/plot.svg");
    svg << RenderSvg(
        plot, absl::StrFormat("r1rl demo%s: 3-digit addition, GRPO", o.zero ? " --zero" : ""));
  }
  const std::string summary = absl::StrFormat(
      "Summary: a %d-parameter model was trained %s on 3-digit addition with rule-based rewards. "
      "Held-out greedy accuracy on %d unseen problems went from %.1f%% when GRPO started to %.1f%% "
      "(checkpoint of step %d%s), with format %.1f%%; the base model scored %.1f%%. "
      "The run took %.0f s; metrics in %s/metrics.jsonl, the curves in %s/plot.svg, the final "
      "checkpoint in %s.\n",
      mcfg.NumParameters(),
      o.zero ? "R1-Zero style (GRPO straight from the base model)"
             : "with GRPO after a cold-start SFT",
      o.test_size, 100 * result.heldout_before, 100 * result.heldout_after, result.selected_step,
      o.select_best ? ", chosen on a separate validation split" : "", 100 * result.format_after,
      100 * base.accuracy, result.seconds, o.run_dir, o.run_dir, final_dir);
  {
    std::ofstream s(o.run_dir + "/summary.txt");
    s << summary;
  }
  out << "\n" << summary << std::flush;
  return result;
}

}  // namespace r1rl::demo
