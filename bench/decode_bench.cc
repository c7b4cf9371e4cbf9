// The machine's ceilings (float32 GEMM through LibTorch, memory bandwidth) and the
// policy model's sampling speed measured against them, in one run:
//  - decode tokens/s of a ~25M-parameter llama at batch 1, 16, 64 with the KV cache,
//    against recomputing the whole prefix every step, and against one sequence at a time;
//  - prefill tokens/s;
//  - each as a fraction of the GEMM ceiling: tokens/s x FLOPs/token / GEMM FLOP/s, where
//    FLOPs/token = 2 x (matmul parameters) + 4 x layers x context x (heads x head_dim).
// Usage: decode_bench [--new-tokens N] [--prompt-tokens P] [--threads T (LibTorch intra-op; 0 =
// cores)]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/bench_torch.h"
#include "bench/bench_util.h"
#include "lib/model/causal_lm.h"
#include "lib/model/generator.h"
#include "lib/model/policy.h"
#include "lib/runtime/blas_core.h"
#include "lib/runtime/threads.h"

namespace {

using r1rl::bench::GemmGflops;
using r1rl::bench::MedianSeconds;
using r1rl::model::GenerationOptions;
using r1rl::model::Generator;
using r1rl::model::ModelConfig;
using r1rl::model::Policy;

double CopyGBps() {
  torch::Tensor src = torch::randn({64 * 1024 * 1024});  // 256 MiB
  torch::Tensor dst = torch::empty_like(src);
  double s = MedianSeconds(5, [&] { dst.copy_(src); });
  return 2.0 * src.numel() * 4 / s / 1e9;  // read + write
}

ModelConfig BenchConfig() {
  ModelConfig c;
  c.model_type = "llama";
  c.architectures = {"LlamaForCausalLM"};
  c.vocab_size = 8192;
  c.hidden_size = 512;
  c.intermediate_size = 1408;
  c.num_hidden_layers = 8;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.head_dim = 64;
  c.max_position_embeddings = 4096;
  c.rope_theta = 10000;
  c.tie_word_embeddings = true;
  return c;
}

// Parameters that take part in a matrix product per token: all but the norms, with the
// tied output projection counted (the input embedding is a lookup).
double MatmulParams(const ModelConfig& c) {
  const double h = c.hidden_size, hd = c.head_dim;
  const double attn = h * c.num_attention_heads * hd * 2 + h * c.num_key_value_heads * hd * 2;
  const double mlp = 3 * h * c.intermediate_size;
  return c.num_hidden_layers * (attn + mlp) + h * c.vocab_size;
}

double FlopsPerToken(const ModelConfig& c, double context) {
  return 2 * MatmulParams(c) +
         4.0 * c.num_hidden_layers * context * c.num_attention_heads * c.head_dim;
}

std::vector<std::vector<int32_t>> Prompts(int64_t n, int64_t len, int64_t vocab) {
  std::vector<std::vector<int32_t>> prompts(n, std::vector<int32_t>(len));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < len; ++j)
      prompts[i][j] = static_cast<int32_t>((i * 7919 + j * 104729) % vocab);
  return prompts;
}

// Seconds to generate `new_tokens` for each of `n` prompts.
double TimeGenerate(Policy* policy, int64_t n, int64_t batch, int64_t prompt_len,
                    int64_t new_tokens, bool cache, int runs) {
  GenerationOptions o;
  o.max_new_tokens = new_tokens;
  o.ignore_eos = true;
  o.max_batch = batch;
  o.use_kv_cache = cache;
  o.seed = 1;
  Generator gen(policy, nullptr, o);
  auto prompts = Prompts(n, prompt_len, policy->config().vocab_size);
  return MedianSeconds(runs, [&] {
    auto out = gen.Generate(prompts, 1);
    if (!out.ok()) std::abort();
  });
}

double TimePrefill(Policy* policy, int64_t batch, int64_t prompt_len) {
  auto& lm = policy->lm();
  torch::Tensor tokens =
      torch::randint(policy->config().vocab_size, {batch, prompt_len}, torch::kInt64);
  torch::Tensor valid = torch::ones({batch, prompt_len}, torch::kBool);
  return MedianSeconds(3, [&] {
    c10::InferenceMode guard;
    auto cache = lm.NewCache(batch, prompt_len);
    lm.ForwardHidden(tokens, r1rl::model::PositionsFromMask(valid),
                     r1rl::model::BuildAttentionMask(valid, 0, prompt_len), &cache);
  });
}

}  // namespace

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  int64_t new_tokens = 128, prompt_len = 32, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--new-tokens")) new_tokens = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--prompt-tokens")) prompt_len = std::atoll(argv[i + 1]);
  }
  r1rl::runtime::ConfigureThreads(threads);
  const double gemm = GemmGflops(1024);
  const double gemm2k = GemmGflops(2048);
  const double bw = CopyGBps();
  std::printf(
      "ceilings (%d threads): float32 GEMM %.1f GFLOP/s (n=1024), %.1f GFLOP/s (n=2048); "
      "memory copy %.1f GB/s (read+write)\n",
      at::get_num_threads(), gemm, gemm2k, bw);
  const double ceiling = std::max(gemm, gemm2k);

  ModelConfig config = BenchConfig();
  auto policy = Policy::RandomInit(config, 0, {});
  if (!policy.ok()) return 1;
  const double ctx = prompt_len + new_tokens / 2.0;  // mean context while decoding
  const double fpt = FlopsPerToken(config, ctx);
  std::printf(
      "model: llama, %.1fM parameters (%.1fM in matmuls), prompt %lld tokens, %lld new "
      "tokens, %.1f MFLOP/token at mean context %.0f\n",
      config.NumParameters() / 1e6, MatmulParams(config) / 1e6, static_cast<long long>(prompt_len),
      static_cast<long long>(new_tokens), fpt / 1e6, ctx);

  std::printf("\n%-34s %8s %12s %14s\n", "decode", "batch", "tokens/s", "of GEMM peak");
  double kv64 = 0, one_at_a_time = 0;
  for (int64_t batch : {1, 16, 64}) {
    double s = TimeGenerate(policy->get(), batch, batch, prompt_len, new_tokens, true, 3);
    double prefill = TimePrefill(policy->get(), batch, prompt_len);
    double tps = batch * new_tokens / (s - prefill);
    if (batch == 64) kv64 = tps;
    std::printf("%-34s %8lld %12.1f %13.1f%%\n", "KV cache", static_cast<long long>(batch), tps,
                100 * tps * fpt / (ceiling * 1e9));
  }
  const int64_t recompute_new = std::min<int64_t>(new_tokens, 32);
  const double ctx_re = prompt_len + recompute_new / 2.0;
  for (int64_t batch : {1, 16, 64}) {
    double s = TimeGenerate(policy->get(), batch, batch, prompt_len, recompute_new, false, 1);
    double tps = batch * recompute_new / s;
    // Useful work only: the recomputed prefix is not counted as progress.
    std::printf("%-34s %8lld %12.1f %13.1f%%\n", "recompute prefix (no cache, 32 new)",
                static_cast<long long>(batch), tps,
                100 * tps * FlopsPerToken(config, ctx_re) / (ceiling * 1e9));
  }
  {
    const int64_t n = 8;
    double s = TimeGenerate(policy->get(), n, 1, prompt_len, new_tokens, true, 1);
    one_at_a_time = n * new_tokens / s;
    std::printf("%-34s %8s %12.1f %13.1f%%\n", "one sequence at a time (8 seqs)", "1",
                one_at_a_time, 100 * one_at_a_time * fpt / (ceiling * 1e9));
  }
  std::printf("\n%-34s %8s %12s %14s\n", "prefill", "batch", "tokens/s", "of GEMM peak");
  for (int64_t batch : {1, 16, 64}) {
    double s = TimePrefill(policy->get(), batch, prompt_len * 4);
    double tps = batch * prompt_len * 4 / s;
    std::printf("%-34s %8lld %12.1f %13.1f%%\n", "prefill (128-token prompts)",
                static_cast<long long>(batch), tps,
                100 * tps * FlopsPerToken(config, prompt_len * 2) / (ceiling * 1e9));
  }
  std::printf("\nbatch-64 KV-cache decode vs one sequence at a time: %.1fx; of GEMM peak: %.1f%%\n",
              kv64 / one_at_a_time, 100 * kv64 * fpt / (ceiling * 1e9));
  return 0;
}
