// The r1rl-reward-grader service as a real process on loopback: rollout groups in over a
// real ZeroMQ PUSH socket, graded groups out over PULL, bad messages counted and dropped
// (and the service still serving), status and health over real gRPC, SIGTERM exits 0.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/grader.grpc.pb.h"

namespace r1rl::reward {
namespace {

v1::RolloutGroup MathGroup(const std::string& lease, const std::string& answer,
                           const std::vector<std::string>& texts) {
  v1::RolloutGroup g;
  g.set_lease_id(lease);
  g.mutable_reward()->set_kind("math");
  g.mutable_reward()->set_answer(answer);
  for (const std::string& t : texts) {
    v1::Sample* s = g.add_samples();
    s->set_text(t);
    s->add_completion_ids(1);
    s->add_behaviour_logprobs(-0.5f);
  }
  return g;
}

// A keys folder for the grader under test (TLS + tokens, as a cluster runs it).
const security::SecurityOptions& Keys() {
  static const security::SecurityOptions o = [] {
    security::SecurityOptions k;
    k.keys_dir = ::testing::TempDir() + "/grader_keys_" + std::to_string(getpid());
    EXPECT_TRUE(security::InitKeys(k.keys_dir, {{}, 30, true}).ok());
    return k;
  }();
  return o;
}

// The learner's side of CurveZMQ for sockets the test binds.
std::unique_ptr<transport::ZapHandler> LearnerZap(zmq::context_t& ctx) {
  auto zap =
      security::StartZap(ctx, Keys(), {{"graders", "grader"}, {"ingest", "grader"}}, nullptr);
  EXPECT_TRUE(zap.ok()) << zap.status();
  return zap.ok() ? std::move(*zap) : nullptr;
}
void AsLearner(zmq::socket_t& s, const std::string& domain) {
  auto keys = security::CurveServer(Keys(), "learner", domain);
  ASSERT_TRUE(keys.ok()) << keys.status();
  transport::SetCurve(s, *keys, /*bind=*/true);
}

class GraderProcess {
 public:
  GraderProcess(const std::string& input, const std::string& output) {
    const char* bin = std::getenv("R1RL_GRADER_BIN");
    EXPECT_NE(bin, nullptr) << "R1RL_GRADER_BIN is not set";
    const std::string keys = "security.keys_dir=" + Keys().keys_dir;
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(bin, bin, "--set", ("grader.input=" + input).c_str(), "--set",
            ("grader.output=" + output).c_str(), "--set", "grader.grpc_address=127.0.0.1:0",
            "--set", "grader.metrics_address=127.0.0.1:0", "--set", "grader.max_message_bytes=4096",
            "--set", "grader.id=test-grader", "--set", "reward.format_weight=0", "--set",
            keys.c_str(), nullptr);
      _exit(127);
    }
    close(out[1]);
    // "r1rl-reward-grader test-grader serving; gRPC port N, metrics port M"
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const size_t p = line.find("gRPC port "), m = line.find("metrics port ");
    EXPECT_TRUE(p != std::string::npos && m != std::string::npos) << "no port line: " << line;
    if (p != std::string::npos) port_ = std::atoi(line.c_str() + p + 10);
    if (m != std::string::npos) metrics_port_ = std::atoi(line.c_str() + m + 13);
  }
  ~GraderProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  int Terminate() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0, metrics_port_ = 0;
};

std::string Scrape(int port) {
  const std::string cmd = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                          " && printf 'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
                          "close\\r\\n\\r\\n' >&3 && cat <&3";
  FILE* p = popen(("bash -c \"" + cmd + "\"").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

TEST(GraderService, GradesGroupsDropsBadOnesAndReportsStatus) {
  zmq::context_t ctx;
  // The test plays the learner: CURVE servers with its key, admitting the grader's.
  auto zap = LearnerZap(ctx);
  zmq::socket_t to_grader(ctx, zmq::socket_type::push), from_grader(ctx, zmq::socket_type::pull);
  AsLearner(to_grader, "graders");
  AsLearner(from_grader, "ingest");
  to_grader.bind("tcp://127.0.0.1:*");
  from_grader.bind("tcp://127.0.0.1:*");
  from_grader.set(zmq::sockopt::rcvtimeo, 20000);
  GraderProcess grader(to_grader.get(zmq::sockopt::last_endpoint),
                       from_grader.get(zmq::sockopt::last_endpoint));
  ASSERT_GT(grader.port(), 0);

  auto send = [&](const std::string& bytes) {
    to_grader.send(zmq::buffer(bytes), zmq::send_flags::none);
  };
  auto serialized = [](const v1::RolloutGroup& g) { return g.SerializeAsString(); };
  // Good groups.
  send(serialized(MathGroup("g1", "\\frac{1}{2}", {"\\boxed{0.5}", "\\boxed{2}"})));
  send(serialized(MathGroup("g2", "x^2+2x+1", {"<answer>(x+1)^2</answer>"})));
  // Bad ones: junk bytes, oversized, unknown kind, NaN log-prob, no samples.
  send(std::string("\xff\xff\xff\xff not a protobuf", 20));
  send(serialized(MathGroup("big", "1", {std::string(5000, 'x')})));
  v1::RolloutGroup unknown = MathGroup("bad-kind", "1", {"1"});
  unknown.mutable_reward()->set_kind("poem");
  send(serialized(unknown));
  v1::RolloutGroup nan = MathGroup("nan", "1", {"1"});
  nan.mutable_samples(0)->set_behaviour_logprobs(0, std::nanf(""));
  send(serialized(nan));
  send(serialized(MathGroup("empty", "1", {})));
  // A good group after the bad ones: still serving.
  v1::RolloutGroup code;
  code.set_lease_id("g3");
  code.mutable_reward()->set_kind("code");
  code.mutable_reward()->set_language("python");
  auto* t = code.mutable_reward()->add_tests();
  t->set_stdin("2 3\n");
  t->set_stdout("5\n");
  code.add_samples()->set_text("```python\na, b = map(int, input().split())\nprint(a + b)\n```");
  send(serialized(code));

  std::map<std::string, v1::RolloutGroup> got;
  for (int i = 0; i < 3; ++i) {
    zmq::message_t msg;
    ASSERT_TRUE(from_grader.recv(msg)) << "graded group " << i + 1 << " of 3 did not arrive";
    v1::RolloutGroup g;
    ASSERT_TRUE(g.ParseFromArray(msg.data(), static_cast<int>(msg.size())));
    got[g.lease_id()] = g;
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got["g1"].graded());
  EXPECT_EQ(got["g1"].grader_id(), "test-grader");
  EXPECT_EQ(got["g1"].samples(0).reward(), 1.0);
  EXPECT_EQ(got["g1"].samples(1).reward(), 0.0);
  EXPECT_EQ(got["g1"].samples(0).reward_components().at("accuracy"), 1.0);
  EXPECT_EQ(got["g2"].samples(0).reward(), 1.0);
  EXPECT_EQ(got["g3"].samples(0).reward(), 1.0) << got["g3"].samples(0).reward_reason();

  auto channel = *security::OpenChannel("127.0.0.1:" + std::to_string(grader.port()), Keys(),
                                        security::Role::kAdmin);
  // Counters arrive just after the last push; poll briefly.
  v1::GraderStatus status;
  auto stub = v1::RewardGrader::NewStub(channel);
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Status(&ctx, v1::GraderStatusRequest(), &status).ok());
    if (status.groups_received() == 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status.grader_id(), "test-grader");
  EXPECT_EQ(status.groups_received(), 8);
  EXPECT_EQ(status.groups_graded(), 3);
  EXPECT_EQ(status.samples_graded(), 4);
  const std::map<std::string, int64_t> want = {{"malformed", 1},
                                               {"oversized", 1},
                                               {"unknown_reward_kind", 1},
                                               {"nan", 1},
                                               {"no_samples", 1}};
  const std::map<std::string, int64_t> dropped(status.dropped().begin(), status.dropped().end());
  EXPECT_EQ(dropped, want);
  EXPECT_NE(status.sandbox_protections().find("protections"), std::string::npos);

  // The synchronous Grade RPC, good and bad.
  {
    grpc::ClientContext ctx;
    v1::RolloutGroup out;
    ASSERT_TRUE(stub->Grade(&ctx, MathGroup("rpc", "7", {"\\boxed{7}"}), &out).ok());
    EXPECT_EQ(out.samples(0).reward(), 1.0);
  }
  {
    grpc::ClientContext ctx;
    v1::RolloutGroup out;
    grpc::Status s = stub->Grade(&ctx, unknown, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("poem"), std::string::npos) << s.error_message();
  }
  // Prometheus metrics: the same counts, and promtool accepts the exposition.
  const std::string metrics = Scrape(grader.metrics_port());
  for (const char* want_line :
       {"r1rl_grader_dropped_total{reason=\"malformed\"} 1",
        "r1rl_grader_dropped_total{reason=\"nan\"} 1", "r1rl_grader_groups_graded_total 4",
        "r1rl_grader_sample_reward_count{component=\"accuracy\"} 5",
        "r1rl_grader_queue_depth{queue=\"incoming\"} 0"}) {
    EXPECT_NE(metrics.find(want_line), std::string::npos) << "metrics lack [" << want_line << "]:\n"
                                                          << metrics;
  }
  if (system("command -v promtool > /dev/null 2>&1") == 0) {
    const std::string path = ::testing::TempDir() + "/grader_metrics.txt";
    FILE* f = fopen(path.c_str(), "w");
    fwrite(metrics.data(), 1, metrics.size(), f);
    fclose(f);
    EXPECT_EQ(system(("promtool check metrics < " + path).c_str()), 0);
  }
  // Health checking.
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse r;
    ASSERT_TRUE(health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &r).ok());
    EXPECT_EQ(r.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  EXPECT_EQ(grader.Terminate(), 0);
}

// SIGTERM right after a burst: every group that was sent comes back graded.
TEST(GraderService, SigtermGradesWhatWasSentBeforeExiting) {
  zmq::context_t ctx;
  // The test plays the learner: CURVE servers with its key, admitting the grader's.
  auto zap = LearnerZap(ctx);
  zmq::socket_t to_grader(ctx, zmq::socket_type::push), from_grader(ctx, zmq::socket_type::pull);
  AsLearner(to_grader, "graders");
  AsLearner(from_grader, "ingest");
  to_grader.bind("tcp://127.0.0.1:*");
  from_grader.bind("tcp://127.0.0.1:*");
  from_grader.set(zmq::sockopt::rcvtimeo, 20000);
  GraderProcess grader(to_grader.get(zmq::sockopt::last_endpoint),
                       from_grader.get(zmq::sockopt::last_endpoint));
  ASSERT_GT(grader.port(), 0);
  // Code groups: each takes a sandboxed run (~40 ms), so most are still queued at SIGTERM.
  const int n = 16;
  for (int i = 0; i < n; ++i) {
    v1::RolloutGroup g;
    g.set_lease_id("burst-" + std::to_string(i));
    g.mutable_reward()->set_kind("code");
    g.mutable_reward()->set_language("python");
    auto* t = g.mutable_reward()->add_tests();
    t->set_stdin(std::to_string(i) + "\n");
    t->set_stdout(std::to_string(2 * i) + "\n");
    g.add_samples()->set_text("```python\nprint(2 * int(input()))\n```");
    const std::string bytes = g.SerializeAsString();
    to_grader.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(50));  // on the wire, not necessarily graded
  std::thread stop([&] { EXPECT_EQ(grader.Terminate(), 0); });
  int received = 0;
  for (; received < n; ++received) {
    zmq::message_t msg;
    if (!from_grader.recv(msg)) break;
    v1::RolloutGroup g;
    ASSERT_TRUE(g.ParseFromArray(msg.data(), static_cast<int>(msg.size())));
    EXPECT_EQ(g.samples(0).reward(), 1.0);
  }
  stop.join();
  EXPECT_EQ(received, n);
}

TEST(GraderService, BadConfigurationExits2NamingTheKey) {
  const char* bin = std::getenv("R1RL_GRADER_BIN");
  ASSERT_NE(bin, nullptr);
  const std::string cmd = std::string(bin) + " --set grader.threads=0 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512] = {0};
  const size_t n = fread(buf, 1, sizeof(buf) - 1, p);
  const int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(std::string(buf, n).find("grader.threads = 0"), std::string::npos) << buf;
}

}  // namespace
}  // namespace r1rl::reward
