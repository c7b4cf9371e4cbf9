// The data plane end to end on loopback: a controller (in this process), a real
// r1rl-reward-grader process and real r1rl-rollout-worker processes sampling with the
// shipped demo model. Prompts are leased, sampled, forwarded to the grader, graded,
// ingested into RocksDB and handed to the trainer. A worker killed with SIGKILL while it
// holds leases costs nothing but time: its leases expire, go to another worker, and every
// prompt is trained on exactly once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "cli/demo/arithmetic_task.h"
#include "gtest/gtest.h"
#include "lib/controller/controller_server.h"
#include "lib/security/keys.h"

namespace r1rl {
namespace {

using std::chrono::milliseconds;

pid_t Spawn(const char* env, const std::vector<std::string>& args) {
  const char* bin = std::getenv(env);
  EXPECT_NE(bin, nullptr) << env << " is not set";
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(bin)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);  // the "serving" line; logs stay on stderr
    execv(bin, argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

class PipelineTest : public ::testing::Test {
 protected:
  void StartController(int rows, milliseconds lease) {
    dir_ = ::testing::TempDir() + "/r1rl_pipeline_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    demo::ArithmeticTask task(7, 1, 1);
    std::mt19937_64 rng(5);
    std::string jsonl;
    for (int i = 0; i < rows; ++i) {
      demo::Problem p = task.SampleTrain(rng);
      jsonl += "{\"prompt\": \"" + demo::ArithmeticTask::PromptText(p) +
               "\", \"reward\": {\"kind\": \"math\", \"answer\": \"" + std::to_string(p.answer()) +
               "\"}}\n";
    }
    learner::ControllerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.rollouts_address = o.graders_address = o.ingest_address = "tcp://127.0.0.1:*";
    o.metrics_address = "127.0.0.1:0";
    o.grpc_address = "127.0.0.1:0";
    o.buffer_path = dir_ + "/buffer";
    o.group_size = 4;
    o.leases.groups_per_step = rows;
    o.leases.max_staleness = 1000;
    o.leases.lease_duration = lease;
    ASSERT_TRUE(security::InitKeys(dir_ + "/keys", {{}, 30, true}).ok());
    o.security.keys_dir = dir_ + "/keys";
    auto dataset = learner::PromptDataset::Parse(jsonl, "arith.jsonl");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    auto c = learner::ControllerServer::Start(o, std::move(*dataset));
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    grader_ = Spawn("R1RL_GRADER_BIN", {"--set", "grader.input=" + controller_->graders_endpoint(),
                                        "--set", "grader.output=" + controller_->ingest_endpoint(),
                                        "--set", "grader.grpc_address=127.0.0.1:0", "--set",
                                        "grader.metrics_address=127.0.0.1:0", "--set",
                                        "security.keys_dir=" + dir_ + "/keys"});
  }

  pid_t StartWorker(const std::vector<std::string>& extra) {
    const char* src = std::getenv("R1RL_SOURCE_DIR");
    std::vector<std::string> args = {
        "--set", "worker.controller=127.0.0.1:" + std::to_string(controller_->grpc_port()),
        "--set", "worker.output=" + controller_->rollouts_endpoint(),
        "--set", std::string("worker.model=") + (src ? src : ".") + "/assets/demo-base",
        "--set", "prompt.format=raw",
        "--set", "generation.max_new_tokens=40",
        "--set", "runtime.threads=1",
        "--set", "security.keys_dir=" + dir_ + "/keys"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Spawn("R1RL_WORKER_BIN", args);
  }

  void TearDown() override {
    if (grader_ > 0) {
      kill(grader_, SIGTERM);
      EXPECT_EQ(WaitExit(grader_, 10), 0);
    }
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<learner::ControllerServer> controller_;
  pid_t grader_ = -1;
};

TEST_F(PipelineTest, PromptsAreSampledGradedIngestedAndBatched) {
  StartController(6, milliseconds(30000));
  const pid_t worker =
      StartWorker({"--set", "worker.prompts_per_lease=3", "--set", "worker.exit_when_done=true"});
  auto batch =
      controller_->TakeBatch(6, std::chrono::steady_clock::now() + std::chrono::seconds(120));
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->groups.size(), 6u) << controller_->Status().DebugString();
  double format = 0;
  int samples = 0;
  for (const auto& g : batch->groups) {
    EXPECT_TRUE(g.graded());
    ASSERT_EQ(g.samples_size(), 4);
    for (const auto& s : g.samples()) {
      EXPECT_EQ(s.completion_ids_size(), s.behaviour_logprobs_size());
      EXPECT_GT(s.completion_ids_size(), 0);
      EXPECT_TRUE(s.reward_components().count("accuracy"));
      format += s.reward_components().at("format");
      ++samples;
    }
  }
  std::cout << "24 samples graded; mean format reward " << format / samples << "\n";
  EXPECT_GT(format / samples, 0.5);  // the demo base model writes the tags
  EXPECT_EQ(WaitExit(worker, 30), 0);
}

TEST_F(PipelineTest, AWorkerKilledWhileHoldingLeasesLosesNothingButTime) {
  StartController(6, milliseconds(1500));
  // One sequence at a time, so it is still sampling when killed.
  const pid_t doomed = StartWorker({"--set", "worker.prompts_per_lease=6", "--set",
                                    "generation.max_batch=1", "--set", "worker.id=doomed"});
  for (int i = 0; i < 2000 && controller_->Status().leases_outstanding() < 6; ++i)
    std::this_thread::sleep_for(milliseconds(5));
  ASSERT_EQ(controller_->Status().leases_outstanding(), 6) << "the worker never took its leases";
  kill(doomed, SIGKILL);
  waitpid(doomed, nullptr, 0);
  const pid_t rescuer =
      StartWorker({"--set", "worker.prompts_per_lease=3", "--set", "worker.exit_when_done=true"});
  auto batch =
      controller_->TakeBatch(6, std::chrono::steady_clock::now() + std::chrono::seconds(120));
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->groups.size(), 6u) << controller_->Status().DebugString();
  std::set<std::string> leases, prompts;
  for (const auto& g : batch->groups) {
    leases.insert(g.lease_id());
    prompts.insert(g.prompt_id());
  }
  EXPECT_EQ(leases.size(), 6u);
  EXPECT_EQ(prompts.size(), 6u) << "a prompt was trained twice";
  const auto st = controller_->Status();
  std::cout << "killed worker: " << st.leases_expired()
            << " leases expired and were granted again; " << st.groups_ingested()
            << " groups ingested, " << st.groups_duplicate() << " duplicates\n";
  EXPECT_GE(st.leases_expired(), 1);
  EXPECT_EQ(WaitExit(rescuer, 30), 0);
}

}  // namespace
}  // namespace r1rl
