// The controller on real sockets (in process): gRPC registration and leases, graded groups
// pushed over ZeroMQ into the RocksDB buffer, duplicates and bad input counted, batches for
// the trainer, lease expiry and re-grant, the staleness bound; the dataset's errors.
#include "lib/controller/controller_server.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <zmq.hpp>

#include "gtest/gtest.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
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

v1::RolloutGroup Graded(const std::string& worker, const v1::PromptLease& lease,
                        bool graded = true) {
  v1::RolloutGroup g;
  g.set_lease_id(lease.lease_id());
  g.set_worker_id(worker);
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
    // Secure, as a cluster runs: TLS and the admin token (which may call every method).
    ASSERT_TRUE(security::InitKeys(dir_ + "/keys", {}).ok());
    security_.keys_dir = dir_ + "/keys";
    StartController();
  }
  // A controller on dir_'s buffer (again, after a reset: a restart).
  void StartController(milliseconds lease_duration = milliseconds(400)) {
    ControllerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.ingest_address = "tcp://127.0.0.1:*";
    o.rollouts_address = "tcp://127.0.0.1:*";
    o.graders_address = "tcp://127.0.0.1:*";
    o.metrics_address = "127.0.0.1:0";
    o.buffer_path = dir_ + "/buffer";
    o.leases.groups_per_step = 2;
    o.leases.max_staleness = 0;
    o.leases.lease_duration = lease_duration;
    o.security = security_;
    auto dataset = PromptDataset::Parse(kRows, "rows.jsonl");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    auto c = ControllerServer::Start(o, std::move(*dataset));
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    channel_ = *security::OpenChannel("127.0.0.1:" + std::to_string(controller_->grpc_port()),
                                      security_, security::Role::kAdmin);
    stub_ = v1::Controller::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
    push_ = zmq::socket_t(ctx_, zmq::socket_type::push);  // not to a stopped controller
    push_.set(zmq::sockopt::linger, 1000);
    SetCurve(push_, "grader");  // the ingest admits graders' keys only
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
  grpc::Status Lease(const std::string& worker, int max, v1::LeasePromptsResponse* resp,
                     int wait_ms = 0) {
    grpc::ClientContext ctx;
    v1::LeasePromptsRequest req;
    req.set_worker_id(worker);
    req.set_max_prompts(max);
    req.set_wait_ms(wait_ms);
    return stub_->LeasePrompts(&ctx, req, resp);
  }
  // CurveZMQ client keys of `role` to the learner's sockets.
  void SetCurve(zmq::socket_t& s, const std::string& role) {
    auto keys = security::CurveClient(security_, role, "learner");
    ASSERT_TRUE(keys.ok()) << keys.status();
    transport::SetCurve(s, *keys, /*bind=*/false);
  }
  void Push(const std::string& bytes) { push_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  // Waits until the controller has seen `n` more messages (ingested, duplicate or rejected).
  void WaitFor(const std::function<bool(const v1::ControllerStatus&)>& done) {
    for (int i = 0; i < 100 && !done(controller_->Status()); ++i)
      std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(done(controller_->Status())) << controller_->Status().DebugString();
  }

  std::string dir_;
  security::SecurityOptions security_;
  std::unique_ptr<ControllerServer> controller_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
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
  Push(Graded(w, leased.leases(0)).SerializeAsString());
  Push(Graded(w, leased.leases(1)).SerializeAsString());
  Push(Graded(w, leased.leases(0)).SerializeAsString());
  Push("\xff\xfe garbage");
  Push(Graded(w, leased.leases(1), /*graded=*/false).SerializeAsString());
  v1::PromptLease forged = leased.leases(0);
  forged.set_lease_id("L999");
  Push(Graded(w, forged).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) {
    return s.groups_ingested() == 2 && s.groups_duplicate() == 1 &&
           s.rejected().count("unknown_lease");
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

// CurveZMQ on the ingest: a graded group pushed in plain text, with an unknown key, or with
// a worker's key (a worker may push rollouts, not graded groups) never reaches the
// controller; each refused connection is counted. The grader's key gets through.
TEST_F(ControllerTest, TheIngestAdmitsGraderKeysOnly) {
  const std::string w = Register();
  v1::LeasePromptsResponse leased;
  ASSERT_TRUE(Lease(w, 2, &leased).ok());
  ASSERT_EQ(leased.leases_size(), 2);
  const std::string group = Graded(w, leased.leases(0)).SerializeAsString();
  char pub[41], secret[41];
  ASSERT_EQ(zmq_curve_keypair(pub, secret), 0);
  const auto learner = security::CurveClient(security_, "grader", "learner")->server_key;
  std::vector<std::unique_ptr<zmq::socket_t>> intruders;
  for (int kind = 0; kind < 3; ++kind) {
    auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::push);
    s->set(zmq::sockopt::linger, 0);
    if (kind == 1) {  // a key of its own
      transport::SetCurve(*s, {pub, secret, learner, ""}, /*bind=*/false);
    } else if (kind == 2) {  // a worker's key
      SetCurve(*s, "worker");
    }
    s->connect(controller_->ingest_endpoint());
    s->send(zmq::buffer(group), zmq::send_flags::dontwait);
    intruders.push_back(std::move(s));
  }
  auto refused = [&] {
    return controller_->registry()
        .GetOrAddCounter("r1rl_zmq_refused_total", "")
        .Add({{"domain", "ingest"}})
        .Value();
  };
  for (int i = 0; i < 100 && refused() < 2; ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(refused(), 2) << "the unknown key and the worker's key";  // plain text: no ZAP
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(controller_->Status().groups_ingested(), 0);
  Push(group);  // the grader's key
  WaitFor([](const v1::ControllerStatus& s) { return s.groups_ingested() == 1; });
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
  Push(Graded(alive, again.leases(0)).SerializeAsString());
  Push(Graded(alive, again.leases(1)).SerializeAsString());
  Push(Graded(dead, first.leases(0)).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) {
    return s.groups_ingested() == 2 && s.groups_duplicate() == 1;
  });
  EXPECT_EQ(controller_->Status().leases_expired(), 2);
  // The learner moved on two versions: with max_staleness 0 both groups are too old.
  controller_->SetPolicyVersion(2);
  auto batch = controller_->TakeBatch(1, std::chrono::steady_clock::now() + milliseconds(300));
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->groups.empty());
  EXPECT_EQ(batch->stale_dropped, 2);
  EXPECT_EQ(controller_->Status().groups_stale(), 2);
}

TEST_F(ControllerTest, LongPollAnswersTheMomentTheVersionMoves) {
  controller_.reset();
  StartController(milliseconds(60000));  // no lease expires while the poll waits
  const std::string w = Register();
  v1::LeasePromptsResponse first;
  ASSERT_TRUE(Lease(w, 2, &first).ok());
  ASSERT_EQ(first.leases_size(), 2);  // the on-policy window is full now
  v1::LeasePromptsResponse empty;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Lease(w, 2, &empty, /*wait_ms=*/200).ok());
  EXPECT_EQ(empty.leases_size(), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(190));  // it waited
  v1::LeasePromptsResponse polled;
  std::chrono::steady_clock::duration waited{};
  std::thread poll([&] {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(Lease(w, 2, &polled, /*wait_ms=*/10000).ok());
    waited = std::chrono::steady_clock::now() - start;
  });
  std::this_thread::sleep_for(milliseconds(300));
  Push(Graded(w, first.leases(0)).SerializeAsString());
  Push(Graded(w, first.leases(1)).SerializeAsString());
  auto batch = controller_->TakeBatch(2, std::chrono::steady_clock::now() + milliseconds(2000));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->groups.size(), 2u);
  controller_->SetPolicyVersion(1);
  poll.join();
  ASSERT_EQ(polled.leases_size(), 2);
  EXPECT_EQ(polled.leases(0).policy_version(), 1);
  EXPECT_GE(waited, milliseconds(250));
  EXPECT_LT(waited, milliseconds(5000));  // woken by the version, not by its 10 s
  v1::LeasePromptsResponse ignored;
  EXPECT_EQ(Lease(w, 1, &ignored, /*wait_ms=*/-1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Lease(w, 1, &ignored, /*wait_ms=*/1 << 30).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControllerTest, WaitingWorkersAreServedInTurn) {
  controller_.reset();
  StartController(milliseconds(60000));  // no lease expires while the polls wait
  const std::string greedy = Register();
  const std::string modest = Register();
  v1::LeasePromptsResponse held;
  ASSERT_TRUE(Lease(greedy, 2, &held).ok());
  ASSERT_EQ(held.leases_size(), 2);  // the window (2) is full
  // Trains what `held` holds (all the greedy worker's): the window opens for the next version.
  auto train = [&](int64_t version) {
    for (const auto& l : held.leases()) Push(Graded(greedy, l).SerializeAsString());
    auto batch = controller_->TakeBatch(held.leases_size(),
                                        std::chrono::steady_clock::now() + milliseconds(5000));
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->groups.size(), static_cast<size_t>(held.leases_size()));
    controller_->SetPolicyVersion(version);
  };
  // Round 1: the greedy worker waits first, for 2; the modest one after it, for 1.
  v1::LeasePromptsResponse g1, m1;
  std::thread gpoll([&] { EXPECT_TRUE(Lease(greedy, 2, &g1, 10000).ok()); });
  std::this_thread::sleep_for(milliseconds(200));
  std::thread mpoll([&] { EXPECT_TRUE(Lease(modest, 1, &m1, 10000).ok()); });
  std::this_thread::sleep_for(milliseconds(200));
  train(1);
  gpoll.join();
  EXPECT_EQ(g1.leases_size(), 2);  // first in line: it takes the whole window
  // Round 2: the greedy worker asks again, now behind the modest one, who is served first.
  v1::LeasePromptsResponse g2;
  std::thread gpoll2([&] { EXPECT_TRUE(Lease(greedy, 2, &g2, 10000).ok()); });
  std::this_thread::sleep_for(milliseconds(200));
  held = g1;
  train(2);
  mpoll.join();
  gpoll2.join();
  EXPECT_EQ(m1.leases_size(), 1) << "the worker that waited longest was passed over";
  EXPECT_EQ(g2.leases_size(), 1);  // the rest of the window
}

TEST_F(ControllerTest, LeasesWaitForTheFirstWeightsWhenAsked) {
  controller_.reset();
  ControllerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.ingest_address = o.rollouts_address = o.graders_address = "tcp://127.0.0.1:*";
  o.metrics_address = "127.0.0.1:0";
  o.buffer_path = dir_ + "/buffer2";
  o.leases.groups_per_step = 2;
  o.lease_after_weights = true;
  o.security = security_;
  auto dataset = PromptDataset::Parse(kRows, "rows.jsonl");
  ASSERT_TRUE(dataset.ok());
  auto c = ControllerServer::Start(o, std::move(*dataset));
  ASSERT_TRUE(c.ok()) << c.status();
  controller_ = std::move(*c);
  stub_ = v1::Controller::NewStub(*security::OpenChannel(
      "127.0.0.1:" + std::to_string(controller_->grpc_port()), security_, security::Role::kWorker));
  const std::string w = Register();
  v1::LeasePromptsResponse none, some;
  ASSERT_TRUE(Lease(w, 2, &none).ok());
  EXPECT_EQ(none.leases_size(), 0);  // no weights published yet
  controller_->PublishWeights(0, "weights");
  ASSERT_TRUE(Lease(w, 2, &some).ok());
  EXPECT_EQ(some.leases_size(), 2);
}

TEST_F(ControllerTest, WorkersReportAndAdminDrainsAndCheckpoints) {
  const std::string w = Register();
  v1::WorkerReport report;
  report.set_worker_id(w);
  report.set_policy_version(0);
  report.set_tokens_generated(1000);
  report.set_generate_seconds(4.0);
  report.set_groups_pushed(12);
  report.set_metrics_address("host-a:9102");
  {
    grpc::ClientContext ctx;
    v1::ReportStatusResponse resp;
    ASSERT_TRUE(stub_->ReportStatus(&ctx, report, &resp).ok());
  }
  v1::WorkerReport bad = report;
  bad.set_tokens_generated(-5);
  {
    grpc::ClientContext ctx;
    v1::ReportStatusResponse resp;
    grpc::Status s = stub_->ReportStatus(&ctx, bad, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("tokens_generated = -5"), std::string::npos);
  }
  v1::ControllerStatus st = controller_->Status();
  ASSERT_EQ(st.worker_info_size(), 1);
  EXPECT_EQ(st.worker_info(0).worker_id(), w);
  EXPECT_TRUE(st.worker_info(0).live());
  EXPECT_DOUBLE_EQ(st.worker_info(0).tokens_per_second(), 250.0);
  EXPECT_EQ(st.worker_info(0).groups_pushed(), 12);
  EXPECT_EQ(st.worker_info(0).metrics_address(), "host-a:9102");

  // CheckpointNow answers once the trainer has saved.
  v1::CheckpointResponse saved;
  grpc::Status ckpt_status;
  std::thread asker([&] {
    grpc::ClientContext ctx;
    v1::CheckpointRequest req;
    req.set_timeout_ms(10000);
    ckpt_status = admin_->CheckpointNow(&ctx, req, &saved);
  });
  int64_t pending = 0;
  for (int i = 0; i < 200 && (pending = controller_->PendingCheckpoints()) == 0; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  ASSERT_GT(pending, 0);
  controller_->CheckpointSaved(pending, 7, "/runs/x/checkpoints/step-7");
  asker.join();
  ASSERT_TRUE(ckpt_status.ok()) << ckpt_status.error_message();
  EXPECT_EQ(saved.step(), 7);
  EXPECT_EQ(saved.path(), "/runs/x/checkpoints/step-7");
  EXPECT_EQ(controller_->PendingCheckpoints(), 0);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::CheckpointRequest req;
    req.set_timeout_ms(200);  // nobody saves: DEADLINE_EXCEEDED, not a hang
    v1::CheckpointResponse resp;
    EXPECT_EQ(admin_->CheckpointNow(&ctx, req, &resp).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  // Drain: the outstanding lease is granted again after it expires, nothing new.
  v1::LeasePromptsResponse one;
  ASSERT_TRUE(Lease(w, 1, &one).ok());
  ASSERT_EQ(one.leases_size(), 1);
  {
    grpc::ClientContext ctx;
    v1::AdminRequest req;
    v1::ControllerStatus resp;
    ASSERT_TRUE(admin_->Drain(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.draining());
  }
  v1::LeasePromptsResponse after;
  ASSERT_TRUE(Lease(w, 2, &after).ok());
  EXPECT_EQ(after.leases_size(), 0);               // the window has room, but no new prompts
  std::this_thread::sleep_for(milliseconds(500));  // past the 400 ms deadline
  ASSERT_TRUE(Lease(w, 2, &after).ok());
  ASSERT_EQ(after.leases_size(), 1);
  EXPECT_EQ(after.leases(0).lease_id(), one.leases(0).lease_id());
  Push(Graded(w, after.leases(0)).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) { return s.groups_ingested() == 1; });
  v1::LeasePromptsResponse done;
  ASSERT_TRUE(Lease(w, 2, &done, /*wait_ms=*/5000).ok());  // answers at once: nothing is left
  EXPECT_EQ(done.leases_size(), 0);
}

TEST_F(ControllerTest, ARestartResumesFromTheOldestUntrainedPrompt) {
  const std::string w = Register();
  v1::LeasePromptsResponse step1;
  ASSERT_TRUE(Lease(w, 2, &step1).ok());
  ASSERT_EQ(step1.leases_size(), 2);
  Push(Graded(w, step1.leases(0)).SerializeAsString());
  Push(Graded(w, step1.leases(1)).SerializeAsString());
  auto batch = controller_->TakeBatch(2, std::chrono::steady_clock::now() + milliseconds(2000));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->groups.size(), 2u);
  controller_->Trained({step1.leases(0).lease_id(), step1.leases(1).lease_id()});
  controller_->SetPolicyVersion(1);
  v1::LeasePromptsResponse step2;  // rows 3 and 4 (positions 2, 3): one arrives, one is out
  ASSERT_TRUE(Lease(w, 2, &step2).ok());
  ASSERT_EQ(step2.leases_size(), 2);
  Push(Graded(w, step2.leases(1)).SerializeAsString());
  WaitFor([](const v1::ControllerStatus& s) { return s.groups_ingested() == 3; });
  ASSERT_TRUE(controller_->SaveResumePoint(1, dir_ + "/checkpoints/step-1").ok());
  EXPECT_FALSE(controller_->resumed_from().has_value());

  controller_.reset();  // the learner dies; a new one starts on the same buffer
  StartController();
  const auto& rp = controller_->resumed_from();
  ASSERT_TRUE(rp.has_value());
  EXPECT_EQ(rp->step, 1);
  EXPECT_EQ(rp->dataset_position, 2);
  EXPECT_EQ(rp->checkpoint, dir_ + "/checkpoints/step-1");
  EXPECT_EQ(rp->groups_dropped, 1u);  // buffered, never trained: its prompt comes again
  EXPECT_EQ(controller_->Status().policy_version(), 1);
  EXPECT_EQ(controller_->Status().groups_unconsumed(), 0);
  const std::string w2 = Register();
  v1::LeasePromptsResponse again;
  ASSERT_TRUE(Lease(w2, 2, &again).ok());
  ASSERT_EQ(again.leases_size(), 2);
  EXPECT_EQ(again.leases(0).prompt_id(), step2.leases(0).prompt_id());
  EXPECT_EQ(again.leases(1).prompt_id(), step2.leases(1).prompt_id());
  EXPECT_EQ(again.leases(0).policy_version(), 1);
  EXPECT_NE(again.leases(0).lease_id(),
            step2.leases(0).lease_id());  // new ids: the old are in the dedup index
}

TEST(PromptDataset, ErrorsNameTheLine) {
  auto bad = [](const std::string& text) {
    return std::string(PromptDataset::Parse(text, "d.jsonl").status().message());
  };
  EXPECT_EQ(
      bad("{\"prompt\": \"a\", \"reward\": {\"kind\": \"math\", \"answer\": \"1\"}}\nnot json\n"),
      "d.jsonl line 2: not valid JSON");
  EXPECT_EQ(bad("{\"reward\": {}}\n"), "d.jsonl line 1: missing field \"prompt\" (a string)");
  EXPECT_NE(bad("{\"prompt\": \"a\"}\n").find("line 1: missing field \"reward\""),
            std::string::npos);
  EXPECT_NE(bad("{\"prompt\": \"a\", \"reward\": {\"kind\": \"poem\"}}\n")
                .find("line 1: reward.kind = \"poem\""),
            std::string::npos);
  EXPECT_EQ(bad("\n\n"), "d.jsonl: no rows");
  auto d = PromptDataset::Parse(
      "{\"prompt\": \"a\", \"reward\": {\"kind\": \"exact\", \"answer\": \"x\"}}\n", "d");
  ASSERT_TRUE(d.ok());
  d->set_epochs(2);
  EXPECT_TRUE(d->Next().has_value());
  EXPECT_TRUE(d->Next().has_value());
  EXPECT_FALSE(d->Next().has_value());
  EXPECT_EQ(d->cursor().epoch, 2);
}

}  // namespace
}  // namespace r1rl::learner
