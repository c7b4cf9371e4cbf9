// The controller on real sockets (in process): gRPC registration and leases, graded groups
// pushed over ZeroMQ into the RocksDB buffer, duplicates and bad input counted, batches for
// the trainer, lease expiry and re-grant, the staleness bound; the dataset's errors.
#include "services/learner/controller_server.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <zmq.hpp>

#include "gtest/gtest.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace r1rl::learner {
namespace {

using std::chrono::milliseconds;

constexpr char kRows[] =
    "{\"id\": \"q0\", \"prompt\": \"1+1=\", \"reward\": {\"kind\": \"math\", \"answer\": \"2\"}}\n"
    "{\"prompt\": \"2+2=\", \"reward\": {\"kind\": \"math\", \"answer\": 4}}\n"
    "\n"
    "{\"prompt\": \"3+3=\", \"reward\": {\"kind\": \"exact\", \"answer\": \"6\"}}\n"
    "{\"prompt\": \"4+4=\", \"reward\": {\"kind\": \"choice\", \"answer\": \"B\"}}\n"
    "{\"prompt\": \"5+5=\", \"reward\": {\"kind\": \"math\", \"answer\": \"10\"}}\n"
    "{\"prompt\": \"6+6=\", \"reward\": {\"kind\": \"math\", \"answer\": \"12\"}}\n";

v1::RolloutGroup Graded(const v1::PromptLease& lease, bool graded = true) {
  v1::RolloutGroup g;
  g.set_lease_id(lease.lease_id());
  g.set_prompt_id(lease.prompt_id());
  g.set_policy_version(lease.policy_version());
  g.set_graded(graded);
  auto* s = g.add_samples();
  s->set_text("x");
  s->set_reward(1.0);
  return g;
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/r1rl_controller_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    ControllerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.ingest_address = "tcp://127.0.0.1:*";
    o.rollouts_address = "tcp://127.0.0.1:*";
    o.graders_address = "tcp://127.0.0.1:*";
    o.metrics_address = "127.0.0.1:0";
    o.buffer_path = dir_ + "/buffer";
    o.leases.groups_per_step = 2;
    o.leases.max_staleness = 0;
    o.leases.lease_duration = milliseconds(400);
    auto dataset = PromptDataset::Parse(kRows, "rows.jsonl");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    auto c = ControllerServer::Start(o, std::move(*dataset));
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(controller_->grpc_port()), grpc::InsecureChannelCredentials());
    stub_ = v1::Controller::NewStub(channel_);
    push_.set(zmq::sockopt::linger, 1000);
    push_.connect(controller_->ingest_endpoint());
  }
  void TearDown() override {
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Register() {
    grpc::ClientContext ctx;
    v1::RegisterRequest req;
    req.set_host("test");
    v1::RegisterResponse resp;
    EXPECT_TRUE(stub_->Register(&ctx, req, &resp).ok());
    return resp.worker_id();
  }
  grpc::Status Lease(const std::string& worker, int max, v1::LeasePromptsResponse* resp) {
    grpc::ClientContext ctx;
    v1::LeasePromptsRequest req;
    req.set_worker_id(worker);
    req.set_max_prompts(max);
    return stub_->LeasePrompts(&ctx, req, resp);
  }
  void Push(const std::string& bytes) { push_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  // Waits until the controller has seen `n` more messages (ingested, duplicate or rejected).
  void WaitFor(const std::function<bool(const v1::ControllerStatus&)>& done) {
    for (int i = 0; i < 100 && !done(controller_->Status()); ++i) std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(done(controller_->Status())) << controller_->Status().DebugString();
  }

  std::string dir_;
  std::unique_ptr<ControllerServer> controller_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  zmq::context_t ctx_;
  zmq::socket_t push_{ctx_, zmq::socket_type::push};
};

TEST_F(ControllerTest, LeasesIngestsAndBatches) {
  const std::string w = Register();
  v1::LeasePromptsResponse leased;
  ASSERT_TRUE(Lease(w, 5, &leased).ok());
  ASSERT_EQ(leased.leases_size(), 2);  // on-policy: one step of 2 groups
  EXPECT_EQ(leased.leases(0).prompt_id(), "q0");
  EXPECT_EQ(leased.leases(0).reward().kind(), "math");
  EXPECT_EQ(leased.leases(1).reward().answer(), "4");  // a number in the row, as text
  EXPECT_GT(leased.leases(0).deadline_unix_ms(), 0);

  // Bad RPCs: counted, answered with the field named.
  v1::LeasePromptsResponse ignored;
  grpc::Status bad = Lease(w, -3, &ignored);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("max_prompts = -3"), std::string::npos);
  EXPECT_EQ(Lease(w, 1 << 30, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status unknown = Lease("nobody", 1, &ignored);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("worker_id = \"nobody\""), std::string::npos);

  // Groups in: two good, one duplicate, junk, an ungraded one, one for a lease never granted.
  Push(Graded(leased.leases(0)).SerializeAsString());
  Push(Graded(leased.leases(1)).SerializeAsString());
  Push(Graded(leased.leases(0)).SerializeAsString());
  Push("\xff\xfe garbage");
  Push(Graded(leased.leases(1), /*graded=*/false).SerializeAsString());
  v1::PromptLease forged = leased.leases(0);
  forged.set_lease_id("L999");
  Push(Graded(forged).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) {
    return s.groups_ingested() == 2 && s.groups_duplicate() == 1 && s.rejected().count("unknown_lease");
  });
  const v1::ControllerStatus st = controller_->Status();
  EXPECT_EQ(st.rejected().at("malformed"), 1);
  EXPECT_EQ(st.rejected().at("not_graded"), 1);
  EXPECT_EQ(st.rejected().at("unknown_lease"), 1);
  EXPECT_EQ(st.rejected().at("bad_request"), 2);
  EXPECT_EQ(st.rejected().at("unknown_worker"), 1);
  EXPECT_EQ(st.leases_completed(), 2);
  EXPECT_EQ(st.workers(), 1);

  // The trainer takes the batch; the next step's prompts come at the new version.
  auto batch = controller_->TakeBatch(2, std::chrono::steady_clock::now() + milliseconds(2000));
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->groups.size(), 2u);
  EXPECT_EQ(batch->groups[0].lease_id(), leased.leases(0).lease_id());
  controller_->SetPolicyVersion(1);
  v1::LeasePromptsResponse next;
  ASSERT_TRUE(Lease(w, 5, &next).ok());
  ASSERT_EQ(next.leases_size(), 2);
  EXPECT_EQ(next.leases(0).policy_version(), 1);
  EXPECT_EQ(next.leases(0).prompt_id(), "rows.jsonl:4");
}

TEST_F(ControllerTest, ExpiredLeasesGoToAnotherWorkerAndStaleGroupsAreDropped) {
  const std::string dead = Register(), alive = Register();
  v1::LeasePromptsResponse first;
  ASSERT_TRUE(Lease(dead, 2, &first).ok());
  ASSERT_EQ(first.leases_size(), 2);
  std::this_thread::sleep_for(milliseconds(500));  // past the 400 ms deadline
  v1::LeasePromptsResponse again;
  ASSERT_TRUE(Lease(alive, 2, &again).ok());
  ASSERT_EQ(again.leases_size(), 2);
  EXPECT_EQ(again.leases(0).lease_id(), first.leases(0).lease_id());
  EXPECT_EQ(again.leases(0).attempt(), 2);
  // The re-granted worker delivers; the dead one's late copy is a duplicate.
  Push(Graded(again.leases(0)).SerializeAsString());
  Push(Graded(again.leases(1)).SerializeAsString());
  Push(Graded(first.leases(0)).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) { return s.groups_ingested() == 2 && s.groups_duplicate() == 1; });
  EXPECT_EQ(controller_->Status().leases_expired(), 2);
  // The learner moved on two versions: with max_staleness 0 both groups are too old.
  controller_->SetPolicyVersion(2);
  auto batch = controller_->TakeBatch(1, std::chrono::steady_clock::now() + milliseconds(300));
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->groups.empty());
  EXPECT_EQ(batch->stale_dropped, 2);
  EXPECT_EQ(controller_->Status().groups_stale(), 2);
}

TEST(PromptDataset, ErrorsNameTheLine) {
  auto bad = [](const std::string& text) { return std::string(PromptDataset::Parse(text, "d.jsonl").status().message()); };
  EXPECT_EQ(bad("{\"prompt\": \"a\", \"reward\": {\"kind\": \"math\", \"answer\": \"1\"}}\nnot json\n"), "d.jsonl line 2: not valid JSON");
  EXPECT_EQ(bad("{\"reward\": {}}\n"), "d.jsonl line 1: missing field \"prompt\" (a string)");
  EXPECT_NE(bad("{\"prompt\": \"a\"}\n").find("line 1: missing field \"reward\""), std::string::npos);
  EXPECT_NE(bad("{\"prompt\": \"a\", \"reward\": {\"kind\": \"poem\"}}\n").find("line 1: reward.kind = \"poem\""), std::string::npos);
  EXPECT_EQ(bad("\n\n"), "d.jsonl: no rows");
  auto d = PromptDataset::Parse("{\"prompt\": \"a\", \"reward\": {\"kind\": \"exact\", \"answer\": \"x\"}}\n", "d");
  ASSERT_TRUE(d.ok());
  d->set_epochs(2);
  EXPECT_TRUE(d->Next().has_value());
  EXPECT_TRUE(d->Next().has_value());
  EXPECT_FALSE(d->Next().has_value());
  EXPECT_EQ(d->cursor().epoch, 2);
}

}  // namespace
}  // namespace r1rl::learner
