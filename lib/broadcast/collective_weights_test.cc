// The broadcast's collective path with real processes: three ranks (this binary started
// three times, c10d Gloo over loopback through a TCPStore), the root sending a version whose
// tensors mix dtypes and sizes in small buckets so that tensors span buckets; the receivers'
// tensors must equal the root's byte for byte. A rank whose model differs (one shape) makes
// every rank fail with an error and none hang; a receiver SIGKILLed after the first bucket
// makes the root fail within the timeout, naming it; after a member leaves, the next
// generation forms (at a rendezvous of its own) and carries the next version; float32
// weights sent as bfloat16 arrive widened or as they are, by the receiver's dtype.
#include "lib/broadcast/collective_weights.h"

#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/distributed/process_group.h"
#include "lib/distributed/rank_process_test_util.h"
#include "lib/safetensors/scoped_temp_dir.h"

namespace r1rl::broadcast {
namespace {

constexpr int kRanks = 3;
constexpr int64_t kBucketBytes = 4096;

// A version's tensors: the root's filled from `seed`, a receiver's zeroed (to be filled).
// `odd_shape`: tensor 2 has another shape (a rank whose model differs).
void MakeTensors(bool fill, int seed, bool odd_shape, std::vector<std::string>* names,
                 std::vector<at::Tensor>* tensors) {
  torch::manual_seed(seed);
  auto add = [&](const std::string& name, at::Tensor t) {
    names->push_back(name);
    tensors->push_back(fill ? t : torch::zeros_like(t));
  };
  add("embed.weight", torch::randn({40, 33}));  // 5,280 bytes: spans two buckets
  add("norm.weight", torch::randn({33}).to(torch::kBFloat16));
  add("layers.0.mlp.weight", torch::randn({odd_shape ? 17 : 16, 70}).to(torch::kBFloat16));
  add("step", torch::tensor({static_cast<int64_t>(seed)}, torch::kInt64));
  add("empty", torch::empty({0}));
  add("lm_head.weight", torch::randn({3, 1000}));  // 12,000 bytes: three buckets of its own
}

std::string Fingerprint(const std::vector<at::Tensor>& tensors) {
  std::string all;
  for (const at::Tensor& t : tensors) {
    const at::Tensor c = t.to(torch::kCPU).contiguous();
    all.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  }
  return std::to_string(std::hash<std::string>{}(all));
}

// The child: one rank. Writes {"ok", "error", "fingerprint", "bytes", "buckets"} to its file.
TEST(CollectiveChild, Rank) {
  const char* rank_env = std::getenv("R1RL_CW_TEST_RANK");
  if (rank_env == nullptr) GTEST_SKIP() << "run by CollectiveWeights.* as a rank";
  distributed::DistOptions d;
  d.rank = std::atoi(rank_env);
  d.world_size = kRanks;
  d.master_port = std::atoi(std::getenv("R1RL_CW_TEST_PORT"));
  d.timeout = std::chrono::seconds(std::atoi(std::getenv("R1RL_CW_TEST_TIMEOUT")));
  d.backend = distributed::Backend::kGloo;
  const std::string mode = std::getenv("R1RL_CW_TEST_MODE");
  auto pg = distributed::ProcessGroup::Create(d, false);
  ASSERT_TRUE(pg.ok()) << pg.status();
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  MakeTensors(d.rank == 0, 7, mode == "odd" && d.rank == 2, &names, &tensors);
  FloatWire wire = FloatWire::kAsIs;
  if (mode == "bf16") {
    // Float32 weights travel as bfloat16: rank 1 widens them into float32 tensors, rank 2
    // samples in bfloat16 and takes them as they come.
    wire = FloatWire::kBFloat16;
    if (d.rank == 2) {
      for (at::Tensor& t : tensors) {
        if (t.scalar_type() == torch::kFloat32) t = t.to(torch::kBFloat16);
      }
    }
  }
  if (mode == "kill" && d.rank == 2) {
    // Follow the protocol through the plan, the agreement and the first bucket, then die:
    // the root is in the middle of the weights.
    std::string plan;
    ASSERT_TRUE((*pg)->BroadcastBytes(&plan, 0).ok());
    std::vector<at::Tensor> flag = {torch::zeros({1}, torch::kInt32)};
    ASSERT_TRUE((*pg)->AllReduce(flag, distributed::ReduceOp::kMax).ok());
    at::Tensor bucket = torch::empty({kBucketBytes}, torch::kUInt8);
    ASSERT_TRUE((*pg)->Broadcast(bucket, 0).ok());
    raise(SIGKILL);
  }
  auto st = BroadcastWeights(**pg, 0, 42, names, tensors, kBucketBytes, wire);
  if (mode == "regen" && st.ok()) {
    // The next generation at the next version: rank 2 left, the two that stay form the group
    // again at a rendezvous of its own: the root's store on a port the kernel picks (as the
    // learner hosts each generation), which the root hands on (here through a file; the
    // broadcast service's Sync in a cluster). Re-forming on the same port raced the old
    // store's teardown, whose reset connections killed a joiner inside c10d.
    pg->reset();
    if (d.rank == 2) std::exit(0);
    d.world_size = kRanks - 1;
    const std::string port_file = std::getenv("R1RL_CW_TEST_PORT2_FILE");
    if (d.rank == 0) {
      d.master_port = 0;
      d.on_listening = [&](int port) {
        std::ofstream(port_file + ".tmp") << port;
        std::filesystem::rename(port_file + ".tmp", port_file);
      };
    } else {
      for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::ifstream(port_file) >> d.master_port;
      ASSERT_GT(d.master_port, 0) << "rank 0 never said where generation 2 meets";
    }
    auto next = distributed::ProcessGroup::Create(d, false);
    ASSERT_TRUE(next.ok()) << next.status();
    names.clear();
    tensors.clear();
    MakeTensors(d.rank == 0, 8, false, &names, &tensors);
    st = BroadcastWeights(**next, 0, 43, names, tensors, kBucketBytes);
  }
  nlohmann::json out;
  out["ok"] = st.ok();
  out["error"] = st.ok() ? "" : std::string(st.status().message());
  out["fingerprint"] = Fingerprint(tensors);
  out["bytes"] = st.ok() ? st->bytes : 0;
  out["buckets"] = st.ok() ? st->buckets : 0;
  out["gone"] = (pg->get() != nullptr && !st.ok()) ? (*pg)->gone_ranks() : std::vector<int>{};
  std::ofstream(std::getenv("R1RL_CW_TEST_OUT")) << out.dump();
}

struct Ranks {
  std::vector<nlohmann::json> results;  // per rank; null when it wrote none
  std::vector<int> signals;             // the signal that ended each rank, 0 if none
  double seconds = 0;
};

Ranks RunRanks(const std::string& mode, int timeout_s) {
  safetensors::ScopedTempDir dir;
  const int port = distributed::FreeLoopbackPort();
  std::vector<pid_t> pids;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < kRanks; ++r) {
    const pid_t pid = distributed::SpawnThisTest(
        "CollectiveChild.Rank",
        {absl::StrCat("R1RL_CW_TEST_RANK=", r), absl::StrCat("R1RL_CW_TEST_PORT=", port),
         absl::StrCat("R1RL_CW_TEST_PORT2_FILE=", dir.path(), "/port2"),
         absl::StrCat("R1RL_CW_TEST_TIMEOUT=", timeout_s), absl::StrCat("R1RL_CW_TEST_MODE=", mode),
         absl::StrCat("R1RL_CW_TEST_OUT=", dir.path(), "/rank", r, ".json")});
    pids.push_back(pid);
  }
  Ranks out;
  for (int r = 0; r < kRanks; ++r) {
    int status = 0;
    EXPECT_EQ(waitpid(pids[r], &status, 0), pids[r]);
    out.signals.push_back(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    std::ifstream f(absl::StrCat(dir.path(), "/rank", r, ".json"));
    out.results.push_back(f ? nlohmann::json::parse(f) : nlohmann::json());
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

TEST(CollectiveWeights, EveryRankHoldsTheRootsBytes) {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  MakeTensors(true, 7, false, &names, &tensors);
  int64_t total = 0;
  for (const at::Tensor& t : tensors) total += t.numel() * t.element_size();
  const Ranks r = RunRanks("ok", 60);
  for (int rank = 0; rank < kRanks; ++rank) {
    ASSERT_FALSE(r.results[rank].is_null()) << "rank " << rank << " wrote nothing";
    EXPECT_TRUE(r.results[rank]["ok"].get<bool>()) << rank << ": " << r.results[rank]["error"];
    EXPECT_EQ(r.results[rank]["fingerprint"], Fingerprint(tensors)) << "rank " << rank;
    EXPECT_EQ(r.results[rank]["bytes"].get<int64_t>(), total);
    // A few large calls, not one per tensor: ceil(total / bucket).
    EXPECT_EQ(r.results[rank]["buckets"].get<int64_t>(), (total + kBucketBytes - 1) / kBucketBytes);
  }
}

TEST(CollectiveWeights, Float32TravelsAsBfloat16AndIsWidenedOrTakenAsIs) {
  std::vector<std::string> names;
  std::vector<at::Tensor> root, widened, narrow;
  MakeTensors(true, 7, false, &names, &root);
  int64_t wire_bytes = 0;
  for (const at::Tensor& t : root) {
    const bool f32 = t.scalar_type() == torch::kFloat32;
    widened.push_back(f32 ? t.to(torch::kBFloat16).to(torch::kFloat32) : t);
    narrow.push_back(f32 ? t.to(torch::kBFloat16) : t);
    wire_bytes += t.numel() * (f32 ? 2 : t.element_size());
  }
  const Ranks r = RunRanks("bf16", 60);
  for (int rank = 0; rank < kRanks; ++rank) {
    ASSERT_FALSE(r.results[rank].is_null()) << "rank " << rank << " wrote nothing";
    EXPECT_TRUE(r.results[rank]["ok"].get<bool>()) << rank << ": " << r.results[rank]["error"];
    EXPECT_EQ(r.results[rank]["bytes"].get<int64_t>(), wire_bytes) << "rank " << rank;
  }
  EXPECT_EQ(r.results[0]["fingerprint"], Fingerprint(root));  // the root's own are untouched
  EXPECT_EQ(r.results[1]["fingerprint"], Fingerprint(widened));
  EXPECT_EQ(r.results[2]["fingerprint"], Fingerprint(narrow));
}

TEST(CollectiveWeights, TheNextGenerationFormsWithoutTheLeaver) {
  std::vector<std::string> names;
  std::vector<at::Tensor> v43;
  MakeTensors(true, 8, false, &names, &v43);
  const Ranks r = RunRanks("regen", 60);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_FALSE(r.results[rank].is_null()) << "rank " << rank << " wrote nothing";
    EXPECT_TRUE(r.results[rank]["ok"].get<bool>()) << rank << ": " << r.results[rank]["error"];
    EXPECT_EQ(r.results[rank]["fingerprint"], Fingerprint(v43)) << "rank " << rank;
  }
  EXPECT_EQ(r.signals[2], 0);
}

TEST(CollectiveWeights, ARankWhoseModelDiffersFailsEveryRankWithoutAHang) {
  const Ranks r = RunRanks("odd", 60);
  EXPECT_LT(r.seconds, 50) << "a rank waited for the timeout";
  for (int rank = 0; rank < kRanks; ++rank) {
    ASSERT_FALSE(r.results[rank].is_null()) << "rank " << rank << " wrote nothing";
    EXPECT_FALSE(r.results[rank]["ok"].get<bool>()) << "rank " << rank;
  }
  const std::string odd = r.results[2]["error"];
  EXPECT_NE(odd.find("layers.0.mlp.weight"), std::string::npos) << odd;
  EXPECT_NE(odd.find("17x70"), std::string::npos) << odd;
  EXPECT_NE(r.results[1]["error"].get<std::string>().find("another rank"), std::string::npos);
  // Nothing was sent: a receiver's tensors are still zero.
  std::vector<std::string> names;
  std::vector<at::Tensor> zeros;
  MakeTensors(false, 7, false, &names, &zeros);
  EXPECT_EQ(r.results[1]["fingerprint"], Fingerprint(zeros));
}

TEST(CollectiveWeights, AReceiverKilledMidTransferFailsTheRootNamingIt) {
  const Ranks r = RunRanks("kill", 5);
  EXPECT_EQ(r.signals[2], SIGKILL);
  ASSERT_FALSE(r.results[0].is_null()) << "the root wrote nothing";
  EXPECT_FALSE(r.results[0]["ok"].get<bool>());
  EXPECT_NE(r.results[0]["error"].get<std::string>().find("rank 2 is gone"), std::string::npos)
      << r.results[0]["error"];
  EXPECT_LT(r.seconds, 40) << "the ranks outlived the 5 s timeout by far";
  EXPECT_EQ(r.results[0]["gone"], nlohmann::json(std::vector<int>{2}));  // for the service
}

// The NCCL path on a GPU (a smoke test: one rank, CUDA tensors, bfloat16 on the wire). It runs
// where a CUDA LibTorch sees a device; elsewhere it is skipped, saying so.
TEST(CollectiveWeights, NcclOneRankOnAGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: the NCCL path needs a GPU";
  distributed::DistOptions d;
  d.world_size = 1;
  d.master_port = 0;
  d.backend = distributed::Backend::kNccl;
  d.timeout = std::chrono::seconds(60);
  auto pg = distributed::ProcessGroup::Create(d, /*cuda=*/true);
  ASSERT_TRUE(pg.ok()) << pg.status();
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  MakeTensors(true, 7, false, &names, &tensors);
  for (at::Tensor& t : tensors) t = t.to(torch::kCUDA);
  const std::string before = Fingerprint(tensors);
  auto st = BroadcastWeights(**pg, 0, 1, names, tensors, kBucketBytes, FloatWire::kBFloat16);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_GT(st->buckets, 1);
  EXPECT_EQ(Fingerprint(tensors), before);  // the root's own are untouched
}

}  // namespace
}  // namespace r1rl::broadcast
