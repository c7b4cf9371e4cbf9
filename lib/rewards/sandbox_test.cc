// The sandbox holds: real hostile programs run in it, and each is contained; the grader
// process keeps working after every one; the code reward is 0 with the reason recorded.
#include "lib/rewards/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "lib/rewards/code_reward.h"

namespace r1rl::reward {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

class SandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { std::cout << Sandbox::Protections().Describe() << "\n"; }

  void SetUp() override {
    auto dir = ScratchDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    scratch_ = std::make_unique<ScratchDir>(std::move(*dir));
  }

  SandboxRun RunPython(const std::string& code, SandboxLimits limits = {}) {
    std::ofstream(scratch_->path() + "/main.py") << code;
    return Sandbox(limits).Run({kPython, "-I", "main.py"}, "", scratch_->path());
  }

  // The grader still serves: a normal program runs and prints.
  void ExpectStillServing() {
    SandboxRun ok = RunPython("print(sum(map(int, '1 2'.split())))\n");
    EXPECT_TRUE(ok.ok()) << ok.reason;
    EXPECT_EQ(ok.stdout_text, "3\n");
  }

  std::unique_ptr<ScratchDir> scratch_;
};

// Processes on the host whose command line contains `marker`.
int ProcessesWith(const std::string& marker) {
  int n = 0;
  DIR* proc = opendir("/proc");
  while (dirent* e = readdir(proc)) {
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream s;
    s << f.rdbuf();
    if (s.str().find(marker) != std::string::npos) ++n;
  }
  closedir(proc);
  return n;
}

TEST_F(SandboxTest, RunsAProgramWithItsInput) {
  std::ofstream(scratch_->path() + "/main.py")
      << "a, b = map(int, input().split())\nprint(a + b)\n";
  SandboxRun run = Sandbox({}).Run({kPython, "-I", "main.py"}, "40 2\n", scratch_->path());
  EXPECT_TRUE(run.ok()) << run.reason << run.stderr_text;
  EXPECT_EQ(run.stdout_text, "42\n");
}

TEST_F(SandboxTest, ForkBomb) {
  SandboxLimits limits;
  limits.wall_seconds = 3;
  SandboxRun run = RunPython(
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
      limits);
  EXPECT_FALSE(run.ok());
  EXPECT_FALSE(run.reason.empty());
  EXPECT_LT(run.wall_seconds, 6.0);
  std::cout << "fork bomb: " << run.reason << "\n";
  ExpectStillServing();
}

// Each scratch directory runs as its own uid, so the per-user process limit one fork bomb
// exhausts is not the next sandbox's (with a shared uid the second program could not start).
TEST_F(SandboxTest, AForkBombDoesNotStarveAnotherSandbox) {
  auto other = ScratchDir::Create();
  ASSERT_TRUE(other.ok());
  std::ofstream(other->path() + "/main.py")
      << "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
  SandboxLimits limits;
  limits.wall_seconds = 3;
  std::thread bomb([&] { Sandbox(limits).Run({kPython, "-I", "main.py"}, "", other->path()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // it is at its process limit by now
  for (int i = 0; i < 3; ++i) ExpectStillServing();
  bomb.join();
}

TEST_F(SandboxTest, InfiniteLoop) {
  SandboxLimits limits;
  limits.cpu_seconds = 1;
  limits.wall_seconds = 4;
  SandboxRun run = RunPython("while True:\n    pass\n", limits);
  EXPECT_FALSE(run.ok());
  EXPECT_TRUE(run.signal == SIGXCPU || run.signal == SIGKILL || run.timed_out) << run.reason;
  std::cout << "infinite loop: " << run.reason << "\n";
  ExpectStillServing();
}

TEST_F(SandboxTest, HugeAllocation) {
  SandboxRun run = RunPython("b = bytearray(10 * 2**30)\nprint(len(b))\n");
  EXPECT_FALSE(run.ok());
  EXPECT_NE(run.reason.find("MemoryError"), std::string::npos) << run.reason;
  ExpectStillServing();
}

TEST_F(SandboxTest, WritingOutsideTheScratchDirectory) {
  char dir_template[] = "/tmp/r1rl-outside-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string target = std::string(dir_template) + "/escaped.txt";
  chmod(dir_template, 0777);  // even a world-writable directory must stay untouched
  SandboxRun run = RunPython("open('" + target + "', 'w').write('x')\n");
  EXPECT_FALSE(run.ok());
  EXPECT_FALSE(std::ifstream(target).good()) << "the program wrote " << target;
  std::cout << "write outside: " << run.reason << "\n";
  // Inside the scratch directory it may write.
  SandboxRun inside =
      RunPython("open('note.txt', 'w').write('x')\nprint(open('note.txt').read())\n");
  EXPECT_TRUE(inside.ok()) << inside.reason;
  std::remove(target.c_str());
  rmdir(dir_template);
  ExpectStillServing();
}

TEST_F(SandboxTest, ReadingAFileOutsideTheScratchDirectory) {
  if (Sandbox::Protections().user_namespace) {
    GTEST_SKIP() << "not root: the program keeps this user's identity in its user namespace, "
                    "so it can read files this user can read";
  }
  char path[] = "/tmp/r1rl-secret-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "TOPSECRET", 9), 9);
  close(fd);
  chmod(path, 0600);
  SandboxRun run = RunPython(std::string("print(open('") + path + "').read())\n");
  EXPECT_FALSE(run.ok());
  EXPECT_EQ(run.stdout_text.find("TOPSECRET"), std::string::npos);
  std::cout << "read outside: " << run.reason << "\n";
  std::remove(path);
  ExpectStillServing();
}

TEST_F(SandboxTest, ConnectingToALocalPort) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  SandboxRun run =
      RunPython("import socket\ns = socket.create_connection(('127.0.0.1', " +
                std::to_string(port) + "), timeout=2)\ns.sendall(b'hello')\nprint('connected')\n");
  EXPECT_FALSE(run.ok());
  EXPECT_EQ(run.stdout_text.find("connected"), std::string::npos);
  EXPECT_LT(accept(listener, nullptr, nullptr), 0) << "a connection reached the host's port";
  close(listener);
  std::cout << "connect: " << run.reason << "\n";
  ExpectStillServing();
}

TEST_F(SandboxTest, PrintingAGibibyte) {
  SandboxRun run = RunPython(
      "import sys\nchunk = 'x' * 65536\nfor _ in range(16384):\n    sys.stdout.write(chunk)\n");
  EXPECT_FALSE(run.ok());
  EXPECT_TRUE(run.output_capped);
  EXPECT_LE(run.stdout_text.size(), SandboxLimits{}.output_bytes);
  EXPECT_LT(run.wall_seconds, 5.0);
  ExpectStillServing();
}

TEST_F(SandboxTest, SleepingPastTheDeadline) {
  SandboxLimits limits;
  limits.wall_seconds = 1;
  SandboxRun run = RunPython("import time\ntime.sleep(60)\n", limits);
  EXPECT_TRUE(run.timed_out);
  EXPECT_LT(run.wall_seconds, 3.0);
  EXPECT_NE(run.reason.find("wall time limit"), std::string::npos);
  ExpectStillServing();
}

TEST_F(SandboxTest, AChildThatEscapesIntoItsOwnSession) {
  // The child starts a new session and sleeps with a unique argument; the parent exits at
  // once. The run must end promptly and no such process may be left on the host.
  const std::string marker = "31.4159" + std::to_string(getpid());
  SandboxRun run = RunPython(
      "import os, sys\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    os.execv('/bin/sleep', ['/bin/sleep', '" +
      marker +
      "'])\n"
      "print('parent done')\n");
  EXPECT_LT(run.wall_seconds, 4.0);
  usleep(300 * 1000);
  EXPECT_EQ(ProcessesWith(marker), 0) << "the escaped child survived";
  ExpectStillServing();
}

TEST(CodeReward, PythonTestsAndAllOrNothing) {
  RewardSpec spec;
  spec.kind = RewardKind::kCode;
  spec.program_language = "python";
  spec.tests = {
      {"1 2\n", "3\n"}, {"5 5\n", "10\n"}, {"2 2\n", "5\n"}};  // the last is wrong on purpose
  const std::string response =
      "Here:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n";
  CodeScore s = ScoreCode(response, spec, {});
  EXPECT_EQ(s.passed, 2);
  EXPECT_EQ(s.total, 3);
  EXPECT_NEAR(s.score, 2.0 / 3, 1e-12);
  EXPECT_EQ(s.reason, "test 3: wrong output");
  spec.all_or_nothing = true;
  EXPECT_EQ(ScoreCode(response, spec, {}).score, 0.0);
  EXPECT_EQ(ScoreCode("no code here", spec, {}).reason, "no fenced code block in the response");
}

TEST(CodeReward, PythonTestScript) {
  RewardSpec spec;
  spec.kind = RewardKind::kCode;
  spec.program_language = "python";
  spec.test_script = "assert add(2, 3) == 5";
  EXPECT_EQ(ScoreCode("```python\ndef add(a, b):\n    return a + b\n```", spec, {}).score, 1.0);
  CodeScore wrong = ScoreCode("```python\ndef add(a, b):\n    return a - b\n```", spec, {});
  EXPECT_EQ(wrong.score, 0.0);
  EXPECT_NE(wrong.reason.find("AssertionError"), std::string::npos) << wrong.reason;
}

TEST(CodeReward, CppCompilesAndRuns) {
  RewardSpec spec;
  spec.kind = RewardKind::kCode;
  spec.program_language = "cpp";
  spec.tests = {{"4\n", "16\n"}};
  CodeScore s = ScoreCode(
      "```cpp\n#include <cstdio>\nint main(){int x; std::scanf(\"%d\", &x); std::printf(\"%d\\n\", "
      "x*x);}\n```",
      spec, {});
  EXPECT_EQ(s.score, 1.0) << s.reason;
  CodeScore broken = ScoreCode("```cpp\nint main( {\n```", spec, {});
  EXPECT_EQ(broken.score, 0.0);
  EXPECT_NE(broken.reason.find("compilation failed"), std::string::npos) << broken.reason;
}

}  // namespace
}  // namespace r1rl::reward
