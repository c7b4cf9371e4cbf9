// Per-token log-probs over a 151,936-token vocabulary (B=8, T=1024, hidden 896 as
// Qwen2.5-0.5B): kernels::TokenLogprobs (chunked, fused with the output projection)
// against the plain route (full logits, log_softmax, gather).
//
// Each variant runs in its own child process so that its peak RSS is its own; the parent
// prints both and their ratios. Usage: logprobs_bench [--tokens N] [--runs R]
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "kernels/token_logprobs.h"
#include "lib/runtime/blas_core.h"
#include "lib/runtime/threads.h"

namespace {

constexpr int64_t kVocab = 151936;
constexpr int64_t kHidden = 896;

struct Result {
  double seconds = 0, peak_gb = 0;
};

// Child: runs one variant, prints "seconds peak_bytes".
int RunChild(const std::string& variant, int64_t tokens, int runs) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  torch::Tensor hidden = torch::randn({tokens, kHidden});
  torch::Tensor weight = torch::randn({kVocab, kHidden}) * 0.02;
  torch::Tensor targets = torch::randint(kVocab, {tokens}, torch::kInt64);
  const double base = r1rl::bench::PeakRssBytes();
  r1rl::kernels::TokenLogprobsOptions options;
  options.with_entropy = false;
  torch::Tensor out;
  double s = r1rl::bench::MedianSeconds(runs, [&] {
    if (variant == "chunked") {
      out = r1rl::kernels::TokenLogprobs(hidden, weight, targets, options).logprobs;
    } else {
      torch::Tensor logits = torch::matmul(hidden, weight.t());
      out = torch::log_softmax(logits, -1).gather(1, targets.unsqueeze(1)).squeeze(1);
    }
  });
  std::printf("%.6f %.0f\n", s, r1rl::bench::PeakRssBytes() - base);
  return 0;
}

Result Spawn(const std::string& variant, int64_t tokens, int runs) {
  // popen runs a shell, so resolve this binary's path before handing it over.
  char self[4096] = {0};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) std::exit(1);
  std::string cmd = std::string(self) + " --child " + variant + " --tokens " +
                    std::to_string(tokens) + " --runs " + std::to_string(runs);
  FILE* pipe = popen(cmd.c_str(), "r");
  Result r;
  double bytes = 0;
  if (pipe == nullptr || std::fscanf(pipe, "%lf %lf", &r.seconds, &bytes) != 2) {
    std::fprintf(stderr, "logprobs_bench: child %s failed\n", variant.c_str());
    std::exit(1);
  }
  pclose(pipe);
  r.peak_gb = bytes / 1e9;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  r1rl::runtime::ConfigureThreads(0);
  int64_t tokens = 8 * 1024;
  int runs = 3;
  std::string child;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) tokens = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--child")) child = argv[i + 1];
  }
  if (!child.empty()) return RunChild(child, tokens, runs);

  std::printf(
      "per-token log-probs: %lld tokens (B=8 x T=1024), vocab %lld, hidden %lld, "
      "float32, %d threads, median of %d runs\n",
      static_cast<long long>(tokens), static_cast<long long>(kVocab),
      static_cast<long long>(kHidden), at::get_num_threads(), runs);
  Result ref = Spawn("reference", tokens, runs);
  Result chunked = Spawn("chunked", tokens, runs);
  std::printf("%-36s %10s %14s\n", "variant", "time s", "peak extra GB");
  std::printf("%-36s %10.3f %14.2f\n", "log_softmax + gather (full logits)", ref.seconds,
              ref.peak_gb);
  std::printf("%-36s %10.3f %14.2f\n", "TokenLogprobs (chunks of 1024)", chunked.seconds,
              chunked.peak_gb);
  std::printf(
      "peak memory ratio (reference / chunked): %.1fx   time ratio (chunked / reference): %.2fx\n",
      ref.peak_gb / chunked.peak_gb, chunked.seconds / ref.seconds);
  return 0;
}
