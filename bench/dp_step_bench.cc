// The data-parallel learner's overhead: GRPO step time and the all-reduce's share for 1 and
// 2 ranks (real processes over loopback, c10d Gloo), on Qwen2-shaped models of ~30M and
// ~125M parameters, and the effect of the gradient bucket size. On 2 cores the point is the
// overhead, not a speed-up: 2 ranks of 1 thread each do the work of 1 rank with 2 threads.
//
//   build/bench/dp_step_bench [--steps 3] [--rows 16] [--tokens 128] [--models 30m,125m]
//
// Each configuration runs `steps` steps after one warm-up step on the same synthetic batch
// (rows completions of `tokens` tokens in groups of 4) and reports the median step time,
// the median all-reduce seconds the step waited for (waiting for the other rank included;
// with overlap, the part the backward pass did not hide) and their ratio, and rank 0's peak
// RSS and Adam state with and without ZeRO-1.
// A rank is this binary started again with --rank (the parent spawns and reads them).
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_util.h"
#include "lib/distributed/c10d_data_parallel.h"
#include "lib/distributed/process_group.h"
#include "lib/model/policy.h"
#include "lib/runtime/blas_core.h"
#include "lib/training/grpo_trainer.h"

extern char** environ;

namespace r1rl::bench {
namespace {

model::ModelConfig Shape(const std::string& name) {
  model::ModelConfig c;
  c.model_type = "qwen2";
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  c.max_position_embeddings = 4096;
  c.eos_token_ids = {2};
  if (name == "30m") {  // 12.3M embedding + 6 x 2.4M layers = 26.5M
    c.vocab_size = 32000, c.hidden_size = 384, c.intermediate_size = 1536;
    c.num_hidden_layers = 6, c.num_attention_heads = 6, c.num_key_value_heads = 2;
    c.head_dim = 64;
  } else {  // 125m: 38.4M embedding + 12 x 7.1M layers = 124M
    c.vocab_size = 50000, c.hidden_size = 768, c.intermediate_size = 3072;
    c.num_hidden_layers = 12, c.num_attention_heads = 12, c.num_key_value_heads = 4;
    c.head_dim = 64;
  }
  return c;
}

std::vector<learner::Rollout> Batch(int rows, int tokens, int64_t vocab) {
  std::mt19937 rng(3);
  std::vector<learner::Rollout> out;
  for (int i = 0; i < rows; ++i) {
    learner::Rollout r;
    r.group_id = i / 4;
    r.prompt_ids.resize(tokens / 4);
    for (auto& t : r.prompt_ids) t = 3 + rng() % (vocab - 3);
    r.completion_ids.resize(tokens - tokens / 4);
    for (auto& t : r.completion_ids) t = 3 + rng() % (vocab - 3);
    r.behaviour_logprobs.assign(r.completion_ids.size(), -10.0f);
    r.reward = static_cast<double>(rng() % 3);
    out.push_back(std::move(r));
  }
  return out;
}

// One rank (or the single process): writes "step_seconds allreduce_seconds" per step.
int RunRank(int rank, int world, int port, const std::string& model, double bucket_mb, bool zero,
            bool overlap, int steps, int rows, int tokens, const std::string& out_path) {
  auto policy = model::Policy::RandomInit(Shape(model), 1, {});
  if (!policy.ok()) return 1;
  learner::GrpoTrainerOptions o;
  o.optimizer.schedule.peak = 1e-5;
  o.loss.aggregation = learner::LossAggregation::kTokenMean;
  if (zero) o.optimizer.shard_rank = rank, o.optimizer.shard_count = world;
  auto trainer = learner::GrpoTrainer::Create(policy->get(), o);
  if (!trainer.ok()) return 1;
  std::unique_ptr<distributed::ProcessGroup> pg;
  std::unique_ptr<distributed::C10dDataParallel> dp;
  if (world > 1) {
    distributed::DistOptions d;
    d.rank = rank, d.world_size = world, d.master_port = port;
    d.bucket_bytes = static_cast<int64_t>(bucket_mb * (1 << 20));
    auto g = distributed::ProcessGroup::Create(d, false);
    if (!g.ok()) {
      std::cerr << g.status() << "\n";
      return 1;
    }
    pg = std::move(*g);
    dp = std::make_unique<distributed::C10dDataParallel>(pg.get(), d.bucket_bytes, zero, overlap);
    (*trainer)->set_data_parallel(dp.get());
  }
  const std::vector<learner::Rollout> all = Batch(rows, tokens, Shape(model).vocab_size);
  const int groups = rows / 4, first = rank * groups / world, end = (rank + 1) * groups / world;
  std::ofstream out(out_path);
  for (int s = 0; s <= steps; ++s) {
    std::vector<learner::Rollout> mine(all.begin() + first * 4, all.begin() + end * 4);
    const double before = pg ? pg->stats().allreduce_seconds : 0.0;
    const auto start = std::chrono::steady_clock::now();
    auto m = (*trainer)->Step(&mine, 4, {first * 4, rows});
    if (!m.ok()) {
      std::cerr << m.status() << "\n";
      return 1;
    }
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s > 0) out << t << " " << (pg ? pg->stats().allreduce_seconds - before : 0.0) << "\n";
  }
  if (dp && rank == 0) out << "buckets " << dp->buckets() << "\n";
  out << "mem " << PeakRssBytes() << " " << (*trainer)->optimizer().state_elements() * 4 << "\n";
  return 0;
}

struct Result {
  double step = 0, allreduce = 0;
  int64_t buckets = 0;
  double rss = 0, adam = 0;  // rank 0's peak RSS and Adam state, bytes
};

Result Launch(const std::string& self, int world, int threads, const std::string& model,
              double bucket_mb, bool zero, bool overlap, int steps, int rows, int tokens) {
  const int port = 29000 + static_cast<int>(getpid() % 2000);
  std::vector<pid_t> pids;
  const std::string dir = absl::StrCat("/tmp/dp_step_bench.", getpid());
  mkdir(dir.c_str(), 0755);
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args = {self,
                                     "--rank",
                                     std::to_string(r),
                                     "--world",
                                     std::to_string(world),
                                     "--port",
                                     std::to_string(port),
                                     "--model",
                                     model,
                                     "--bucket-mb",
                                     absl::StrCat(bucket_mb),
                                     "--zero",
                                     zero ? "1" : "0",
                                     "--overlap",
                                     overlap ? "1" : "0",
                                     "--steps",
                                     std::to_string(steps),
                                     "--rows",
                                     std::to_string(rows),
                                     "--tokens",
                                     std::to_string(tokens),
                                     "--out",
                                     absl::StrCat(dir, "/rank", r)};
    std::vector<std::string> env_s = {absl::StrCat("OMP_NUM_THREADS=", threads),
                                      absl::StrCat("OPENBLAS_NUM_THREADS=", threads),
                                      "PATH=/usr/bin:/bin"};
    if (const char* core = std::getenv("OPENBLAS_CORETYPE"))
      env_s.push_back(absl::StrCat("OPENBLAS_CORETYPE=", core));
    std::vector<char*> argv, env;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) env.push_back(e.data());
    env.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), env.data()) != 0) {
      std::cerr << "spawn failed\n";
      std::exit(1);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "a rank failed\n";
      std::exit(1);
    }
  }
  // Each step's time is the slower rank's; all-reduce from rank 0.
  std::vector<std::vector<double>> step(world), ar(world);
  Result res;
  for (int r = 0; r < world; ++r) {
    std::ifstream in(absl::StrCat(dir, "/rank", r));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string first;
      ls >> first;
      if (first == "buckets") {
        ls >> res.buckets;
        continue;
      }
      if (first == "mem") {
        if (r == 0) ls >> res.rss >> res.adam;
        continue;
      }
      double a = 0;
      ls >> a;
      step[r].push_back(std::stod(first));
      ar[r].push_back(a);
    }
  }
  std::vector<double> worst(step[0].size()), ar0 = ar[0];
  for (size_t s = 0; s < worst.size(); ++s) {
    for (int r = 0; r < world; ++r) worst[s] = std::max(worst[s], step[r][s]);
  }
  res.step = Median(worst);
  res.allreduce = Median(ar0);
  return res;
}

}  // namespace
}  // namespace r1rl::bench

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  using namespace r1rl::bench;
  int rank = -1, world = 1, port = 0, steps = 3, rows = 16, tokens = 128;
  double bucket_mb = 25;
  bool zero = false, overlap = true;
  std::string model = "30m", out, models = "30m,125m";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--rank")
      rank = std::stoi(v);
    else if (k == "--world")
      world = std::stoi(v);
    else if (k == "--port")
      port = std::stoi(v);
    else if (k == "--model")
      model = v;
    else if (k == "--bucket-mb")
      bucket_mb = std::stod(v);
    else if (k == "--steps")
      steps = std::stoi(v);
    else if (k == "--rows")
      rows = std::stoi(v);
    else if (k == "--tokens")
      tokens = std::stoi(v);
    else if (k == "--out")
      out = v;
    else if (k == "--zero")
      zero = v == "1";
    else if (k == "--overlap")
      overlap = v == "1";
    else if (k == "--models")
      models = v;
    else {
      std::fprintf(stderr,
                   "dp_step_bench: unknown flag %s (flags: --steps --rows --tokens "
                   "--models --bucket-mb)\n",
                   k.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "dp_step_bench: flag %s has no value\n", argv[argc - 1]);
    return 2;
  }
  if (rank >= 0) {
    torch::set_num_threads(std::atoi(std::getenv("OMP_NUM_THREADS")));
    return RunRank(rank, world, port, model, bucket_mb, zero, overlap, steps, rows, tokens, out);
  }
  const std::string self = "/proc/self/exe";
  char exe[4096];
  const ssize_t n = readlink(self.c_str(), exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  std::printf(
      "dp_step_bench: %d rows x %d tokens per step (groups of 4), median of %d steps; "
      "%ld cores\n",
      rows, tokens, steps, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-6s %-24s %9s %9s %9s %7s %7s %9s %9s\n", "model", "config", "bucket", "step s",
              "allred s", "share", "buckets", "RSS MB", "Adam MB");
  for (const std::string& m : std::vector<std::string>(absl::StrSplit(models, ','))) {
    struct Config {
      const char* name;
      int world, threads;
      double bucket;
      bool zero, overlap;
    };
    const Config configs[] = {{"1 rank x 1 thread", 1, 1, 25, false, true},
                              {"1 rank x 2 threads", 1, 2, 25, false, true},
                              {"2 ranks x 1 thread", 2, 1, 25, false, true},
                              {"2 ranks x 1 thread", 2, 1, 1, false, true},
                              {"2 ranks x 1 thread", 2, 1, 200, false, true},
                              {"2 ranks x 1 thread ZeRO-1", 2, 1, 25, true, true},
                              {"2 ranks, no overlap", 2, 1, 25, false, false}};
    std::vector<Result> rs;
    for (const Config& c : configs) {
      Result r =
          Launch(exe, c.world, c.threads, m, c.bucket, c.zero, c.overlap, steps, rows, tokens);
      rs.push_back(r);
      std::printf("%-6s %-24s %6.0f MB %9.3f %9.3f %6.1f%% %7ld %9.0f %9.0f\n", m.c_str(), c.name,
                  c.bucket, r.step, r.allreduce, 100 * r.allreduce / r.step,
                  static_cast<long>(r.buckets), r.rss / 1e6, r.adam / 1e6);
      std::fflush(stdout);
    }
    std::printf(
        "%-6s ratios: 2 ranks x 1 thread / 1 rank x 2 threads = %.2f; / 1 rank x 1 thread = "
        "%.2f; all-reduce share %.1f%% (25 MB buckets), %.1f%% (1 MB), %.1f%% (200 MB); "
        "ZeRO-1: rank 0's Adam state %.2fx, peak RSS %.2fx, step %.2fx; overlap: step %.2fx, "
        "waiting for the all-reduce %.2fx of no overlap's\n",
        m.c_str(), rs[2].step / rs[1].step, rs[2].step / rs[0].step,
        100 * rs[2].allreduce / rs[2].step, 100 * rs[3].allreduce / rs[3].step,
        100 * rs[4].allreduce / rs[4].step, rs[5].adam / rs[2].adam, rs[5].rss / rs[2].rss,
        rs[5].step / rs[2].step, rs[2].step / rs[6].step, rs[2].allreduce / rs[6].allreduce);
  }
  return 0;
}
