// One GRPO step of r1rl on a real model shape, timed phase by phase against this machine's
// GEMM ceiling: the Qwen2 shape of issue 24 (151,936-token vocabulary, hidden 256, 6 layers,
// 4 heads / 2 KV heads, intermediate 1024, tied embeddings: ~45M parameters, random weights),
// 8 prompts x G = 8 completions of 128 new tokens, the learner's settings at r1rl's defaults
// (grpo.* of docs/configuration.md: KL to a reference at beta 0.001, one optimizer step).
// Rewards are fixed so that the backward runs: within each group, completion k gets k % 2
// (`--zero-groups Z` gives the first Z groups reward 0 throughout: no signal).
//
// Printed per step: sampling and learning seconds and tokens/s, each phase's useful FLOPs as
// a share of the float32 GEMM ceiling, the peak resident memory of each phase, and its minor
// page faults and kernel (system) CPU seconds. Useful FLOPs of the learning phase:
//   forward + backward (3 x forward) of the policy + one forward of the reference, where a
//   forward is 2 x body matmul parameters x every token (prompt and completion: the
//   completion attends to the prompt) + attention (4 x layers x context x heads x head_dim
//   per token) + 2 x hidden x vocabulary x each completion token (the output projection is
//   needed only where a log-prob is trained).
// Usage: grpo_step_bench [--steps N] [--prompts P] [--group G] [--new-tokens T]
//          [--prompt-tokens L] [--layers N] [--vocab V] [--beta B] [--zero-groups Z]
//          [--micro-batch M (grpo.micro_batch_size)] [--threads T (LibTorch intra-op; 0 = r1rl's
//          choice)]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_torch.h"
#include "bench/bench_util.h"
#include "lib/config/config.h"
#include "lib/model/generator.h"
#include "lib/model/policy.h"
#include "lib/runtime/blas_core.h"
#include "lib/runtime/threads.h"
#include "lib/training/grpo_trainer.h"
#include "lib/training/learner_config.h"

namespace {

using r1rl::model::ModelConfig;

struct Args {
  int64_t steps = 2, prompts = 8, group = 8, new_tokens = 128, prompt_tokens = 150;
  int64_t layers = 6, vocab = 151936, zero_groups = 0, threads = 0, micro_batch = -1;
  double beta = 0.001;
};

ModelConfig Qwen2Shape(const Args& a) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.architectures = {"Qwen2ForCausalLM"};
  c.vocab_size = a.vocab;
  c.hidden_size = 256;
  c.intermediate_size = 1024;
  c.num_hidden_layers = a.layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 4096;
  c.rope_theta = 1000000;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

// Matmul parameters of the transformer body (attention and MLP projections of every layer).
double BodyMatmulParams(const ModelConfig& c) {
  const double h = c.hidden_size, hd = c.head_dim;
  const double attn = h * c.num_attention_heads * hd * 2 + h * c.num_key_value_heads * hd * 2;
  return c.num_hidden_layers * (attn + 3 * h * c.intermediate_size);
}

// FLOPs of one forward over a sequence of `len` tokens whose last `head_tokens` need logits.
double ForwardFlops(const ModelConfig& c, double len, double head_tokens) {
  const double body = 2 * BodyMatmulParams(c) * len;
  const double attention =
      4.0 * c.num_hidden_layers * (len / 2) * c.num_attention_heads * c.head_dim * len;
  return body + attention + 2.0 * c.hidden_size * c.vocab_size * head_tokens;
}

// Sampling FLOPs of one sequence: the prompt's prefill (logits of its last position) and
// one decode step per new token at the context reached.
double SamplingFlops(const ModelConfig& c, double prompt, double new_tokens) {
  double f = ForwardFlops(c, prompt, 1);
  for (double t = 0; t + 1 < new_tokens; ++t) {
    const double ctx = prompt + t + 1;
    f += 2 * BodyMatmulParams(c) +
         4.0 * c.num_hidden_layers * ctx * c.num_attention_heads * c.head_dim +
         2.0 * c.hidden_size * c.vocab_size;
  }
  return f;
}

struct Phase {
  double seconds = 0, peak_rss = 0, faults = 0, sys = 0, cpu = 0;
};

template <typename Fn>
Phase Measure(Fn&& fn) {
  r1rl::bench::ResetPeakRss();
  const double f0 = r1rl::bench::MinorFaults(), s0 = r1rl::bench::SystemSeconds(),
               c0 = r1rl::bench::CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  fn();
  Phase p;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  p.peak_rss = r1rl::bench::PeakRssSinceResetBytes();
  p.faults = r1rl::bench::MinorFaults() - f0;
  p.sys = r1rl::bench::SystemSeconds() - s0;
  p.cpu = r1rl::bench::CpuSeconds() - c0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::map<std::string, int64_t*> ints = {{"--steps", &a.steps},
                                                  {"--prompts", &a.prompts},
                                                  {"--group", &a.group},
                                                  {"--new-tokens", &a.new_tokens},
                                                  {"--prompt-tokens", &a.prompt_tokens},
                                                  {"--layers", &a.layers},
                                                  {"--vocab", &a.vocab},
                                                  {"--zero-groups", &a.zero_groups},
                                                  {"--threads", &a.threads},
                                                  {"--micro-batch", &a.micro_batch}};
    if (auto it = ints.find(k); it != ints.end()) {
      *it->second = std::atoll(argv[i + 1]);
    } else if (k == "--beta") {
      a.beta = std::atof(argv[i + 1]);
    } else {
      std::fprintf(stderr, "grpo_step_bench: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  const int threads = r1rl::runtime::ConfigureThreads(a.threads);
  double ceiling = std::max(r1rl::bench::GemmGflops(1024), r1rl::bench::GemmGflops(2048)) * 1e9;
  std::printf(
      "BLAS kernels: %s\nLibTorch intra-op threads: %d sampling, %d learning "
      "(runtime.learner_threads 0: one per core); float32 GEMM ceiling %.1f GFLOP/s\n",
      r1rl::runtime::DescribeCoreTypeChoice().c_str(), threads, r1rl::runtime::CoreCount(),
      ceiling / 1e9);

  const ModelConfig mc = Qwen2Shape(a);
  auto policy = r1rl::model::Policy::RandomInit(mc, 0, {});
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policy.status().message()).c_str());
    return 1;
  }
  auto cfg = r1rl::config::Config::FromYaml("{}");
  if (!cfg.ok()) return 1;
  if (a.micro_batch >= 0 &&
      !cfg->Set("grpo.micro_batch_size=" + std::to_string(a.micro_batch)).ok()) {
    return 2;
  }
  for (const std::string& kv : {"generation.max_new_tokens=" + std::to_string(a.new_tokens),
                                "generation.num_samples=" + std::to_string(a.group),
                                "grpo.prompts_per_step=" + std::to_string(a.prompts),
                                "grpo.beta=" + std::to_string(a.beta)}) {
    if (!cfg->Set(kv).ok()) return 1;
  }
  auto topt = r1rl::learner::GrpoOptionsFromConfig(*cfg);
  if (!topt.ok()) {
    std::fprintf(stderr, "%s\n", std::string(topt.status().message()).c_str());
    return 1;
  }
  auto trainer = r1rl::learner::GrpoTrainer::Create(policy->get(), *topt);
  if (!trainer.ok()) return 1;
  r1rl::model::GenerationOptions gopt;
  gopt.max_new_tokens = a.new_tokens;
  gopt.ignore_eos = true;  // random weights: every completion runs the full length
  gopt.temperature = topt->temperature;
  gopt.max_batch = a.prompts * a.group;
  gopt.seed = 1;
  r1rl::model::Generator generator(policy->get(), nullptr, gopt);

  const double seqs = static_cast<double>(a.prompts * a.group);
  const double sample_flops = seqs * SamplingFlops(mc, a.prompt_tokens, a.new_tokens);
  const double fwd = seqs * ForwardFlops(mc, a.prompt_tokens + a.new_tokens, a.new_tokens);
  const double learn_flops = (a.beta > 0 ? 4.0 : 3.0) * fwd;
  std::printf(
      "model: qwen2, %.1fM parameters, vocabulary %lld; %lld prompts x G = %lld, prompt %lld "
      "tokens, %lld new tokens; beta %g; useful GFLOP: sampling %.0f, learning %.0f\n",
      mc.NumParameters() / 1e6, static_cast<long long>(mc.vocab_size),
      static_cast<long long>(a.prompts), static_cast<long long>(a.group),
      static_cast<long long>(a.prompt_tokens), static_cast<long long>(a.new_tokens), a.beta,
      sample_flops / 1e9, learn_flops / 1e9);
  std::printf("resident before the first step: %.0f MB\n\n", r1rl::bench::CurrentRssBytes() / 1e6);
  std::printf("%4s %9s %10s %7s %9s %10s %7s %9s %9s %11s %9s %9s\n", "step", "sample_s",
              "sample_t/s", "of_GEMM", "learn_s", "learn_t/s", "of_GEMM", "step_s", "peak_MB",
              "minflt(M)", "sys_s", "cpu/wall");

  std::vector<double> step_s, sample_s, learn_s;
  Phase worst_sample, worst_learn;
  for (int64_t step = 0; step < a.steps; ++step) {
    std::vector<std::vector<int32_t>> prompts(a.prompts);
    for (int64_t i = 0; i < a.prompts; ++i) {
      for (int64_t j = 0; j < a.prompt_tokens; ++j) {
        prompts[i].push_back(
            static_cast<int32_t>((step * 131 + i * 7919 + j * 104729) % mc.vocab_size));
      }
    }
    std::vector<r1rl::model::Completion> completions;
    const Phase sp = Measure([&] {
      auto out = generator.Generate(prompts, a.group);
      if (!out.ok()) std::abort();
      completions = std::move(*out);
    });
    std::vector<r1rl::learner::Rollout> rollouts;
    double new_tokens = 0;
    for (const auto& c : completions) {
      r1rl::learner::Rollout r;
      r.group_id = c.prompt_index;
      r.prompt_ids = prompts[c.prompt_index];
      r.completion_ids = c.token_ids;
      r.behaviour_logprobs = c.logprobs;
      r.policy_version = step;
      r.reward = c.prompt_index < a.zero_groups ? 0.0 : static_cast<double>(c.sample_index % 2);
      new_tokens += static_cast<double>(c.token_ids.size());
      rollouts.push_back(std::move(r));
    }
    r1rl::learner::Metrics metrics;
    const Phase lp = Measure([&] {
      auto m = (*trainer)->Step(&rollouts, a.group);
      if (!m.ok()) {
        std::fprintf(stderr, "%s\n", std::string(m.status().message()).c_str());
        std::abort();
      }
      metrics = *m;
    });
    const double total = sp.seconds + lp.seconds;
    std::printf(
        "%4lld %9.2f %10.1f %6.1f%% %9.2f %10.1f %6.1f%% %9.2f %4.0f/%4.0f %5.2f/%5.2f "
        "%4.2f/%4.2f %4.2f/%4.2f\n",
        static_cast<long long>(step), sp.seconds, new_tokens / sp.seconds,
        100 * sample_flops / sp.seconds / ceiling, lp.seconds, new_tokens / lp.seconds,
        100 * learn_flops / lp.seconds / ceiling, total, sp.peak_rss / 1e6, lp.peak_rss / 1e6,
        sp.faults / 1e6, lp.faults / 1e6, sp.sys, lp.sys, sp.cpu / sp.seconds, lp.cpu / lp.seconds);
    std::printf("     (grad_norm %.3g, kl %.3g, advantage_abs_mean %.3g)\n", metrics["grad_norm"],
                metrics["kl"], metrics["advantage_abs_mean"]);
    step_s.push_back(total);
    sample_s.push_back(sp.seconds);
    learn_s.push_back(lp.seconds);
    if (lp.peak_rss > worst_learn.peak_rss) worst_learn = lp;
    if (sp.peak_rss > worst_sample.peak_rss) worst_sample = sp;
  }
  // The GEMM ceiling of a shared VM moves (124-248 GFLOP/s between runs here): measured
  // again after the steps, the summary's shares are against the higher of the two.
  const double ceiling_after =
      std::max(r1rl::bench::GemmGflops(1024), r1rl::bench::GemmGflops(2048)) * 1e9;
  std::printf("\nfloat32 GEMM ceiling: %.1f GFLOP/s before the steps, %.1f after\n", ceiling / 1e9,
              ceiling_after / 1e9);
  ceiling = std::max(ceiling, ceiling_after);
  const double ls = r1rl::bench::Median(learn_s), ss = r1rl::bench::Median(sample_s);
  std::printf(
      "median of %lld steps: step %.2f s (sampling %.2f s, learning %.2f s); learning at "
      "%.1f%% of the GEMM ceiling, sampling at %.1f%%; peak resident: sampling %.0f MB, "
      "learning %.0f MB; process peak %.0f MB\n",
      static_cast<long long>(a.steps), r1rl::bench::Median(step_s), ss, ls,
      100 * learn_flops / ls / ceiling, 100 * sample_flops / ss / ceiling,
      worst_sample.peak_rss / 1e6, worst_learn.peak_rss / 1e6, r1rl::bench::PeakRssBytes() / 1e6);
  return 0;
}
