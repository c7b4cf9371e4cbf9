// The parameter-broadcast service with real receivers in one process: real gRPC and ZeroMQ
// sockets on loopback. Faulty relays are real chunk servers that hold corrupt bytes, or hold
// half a version and then go away.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "lib/broadcast/chunk_server.h"
#include "lib/broadcast/manifest.h"
#include "lib/broadcast/publisher.h"
#include "lib/broadcast/receiver.h"
#include "lib/broadcast/test_weights.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/broadcast.grpc.pb.h"
#include "services/param_broadcast/broadcast_server.h"

namespace r1rl::broadcast {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class BroadcastTest : public ::testing::Test {
 protected:
  void StartServer(BroadcastServerOptions o = {}) {
    o.grpc_address = "127.0.0.1:0";
    o.chunk_address = "tcp://127.0.0.1:0";
    o.advertise_host = "127.0.0.1";
    o.metrics_address = "127.0.0.1:0";
    if (o.chunk_bytes == (int64_t{1} << 20)) o.chunk_bytes = 16384;
    o.sync_wait_ms = 300;
    o.receiver_timeout_ms = 3000;
    if (o.relay_timeout_ms == 2000) o.relay_timeout_ms = 600;
    o.security = Keys();
    options_ = o;
    auto s = BroadcastServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    address_ = "127.0.0.1:" + std::to_string(server_->grpc_port());
    stub_ = v1::ParamBroadcast::NewStub(
        *security::OpenChannel(address_, o.security, security::Role::kAdmin));
  }

  // TLS and role tokens as a cluster runs them: one keys folder per test process.
  static security::SecurityOptions Keys() {
    static const std::string dir = [] {
      const std::string d = ::testing::TempDir() + "/broadcast_keys_" + std::to_string(getpid());
      EXPECT_TRUE(security::InitKeys(d, {{}, 30, true}).ok());
      return d;
    }();
    security::SecurityOptions o;
    o.keys_dir = dir;
    return o;
  }

  std::unique_ptr<Receiver> Join(const std::string& id) {
    ReceiverOptions o;
    o.service = address_;
    o.security = Keys();
    o.bind = "tcp://127.0.0.1:0";
    o.advertise_host = "127.0.0.1";
    o.receiver_id = id;
    o.progress_ms = 50;
    auto r = Receiver::Start(o);
    EXPECT_TRUE(r.ok()) << r.status();
    // Joined once the service lists it.
    for (int i = 0; i < 100 && Find(id).receiver_id().empty(); ++i)
      std::this_thread::sleep_for(milliseconds(20));
    return std::move(*r);
  }

  v1::BroadcastStatus Status() {
    grpc::ClientContext ctx;
    v1::BroadcastStatus st;
    EXPECT_TRUE(stub_->Status(&ctx, {}, &st).ok());
    return st;
  }

  v1::ReceiverInfo Find(const std::string& id) {
    const v1::BroadcastStatus st = Status();
    for (const auto& r : st.receivers())
      if (r.receiver_id() == id) return r;
    return {};
  }

  v1::PublishResponse Publish(int64_t version, const std::string& bytes) {
    auto pub = BroadcastPublisher::Open(address_, Keys());
    EXPECT_TRUE(pub.ok()) << pub.status();
    auto r = (*pub)->Publish(version, bytes);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::PublishResponse{};
  }

  // A relay the test controls: a real chunk server over a store the test fills, joined as
  // `id` (it never syncs: the service forgets it after receiver_timeout_ms).
  struct FakeRelay {
    zmq::context_t ctx{1};
    std::unique_ptr<transport::ZapHandler> zap;  // CurveZMQ as a worker's relay runs it
    ChunkStore store;
    std::atomic<bool> park_everything{false};
    std::unique_ptr<ChunkServer> server;
  };
  std::unique_ptr<FakeRelay> StartFakeRelay(const std::string& id) {
    auto f = std::make_unique<FakeRelay>();
    ChunkServer::Options o;
    o.bind = "tcp://127.0.0.1:0";
    o.advertise_host = "127.0.0.1";
    o.park_ms = 100;
    f->zap = *security::StartZap(f->ctx, Keys(), {{"chunks", "worker"}}, nullptr);
    o.curve = *security::CurveServer(Keys(), "worker", "chunks");
    FakeRelay* raw = f.get();
    auto s = ChunkServer::Start(f->ctx, o, &f->store, [raw](const std::string&, int64_t) {
      return raw->park_everything.load();
    });
    EXPECT_TRUE(s.ok());
    f->server = std::move(*s);
    grpc::ClientContext ctx;
    v1::JoinRequest req;
    req.set_receiver_id(id);
    req.set_chunk_endpoint(f->server->endpoint());
    req.set_held_version(-1);
    v1::JoinResponse resp;
    EXPECT_TRUE(stub_->Join(&ctx, req, &resp).ok());
    return f;
  }

  BroadcastServerOptions options_;
  std::unique_ptr<BroadcastServer> server_;
  std::string address_;
  std::unique_ptr<v1::ParamBroadcast::Stub> stub_;
};

TEST_F(BroadcastTest, AChainGetsEachVersionOnceFromTheServiceAndSkipsUnchangedChunks) {
  StartServer();
  auto a = Join("a"), b = Join("b"), c = Join("c");
  EXPECT_EQ(Find("a").parent_id(), "root");
  EXPECT_EQ(Find("b").parent_id(), "a");
  EXPECT_EQ(Find("c").parent_id(), "b");
  const std::string v0 = TestWeights(16, 32768, 1);  // 2 MiB: 128 chunks
  Publish(0, v0);
  for (auto* r : {a.get(), b.get(), c.get()}) {
    auto got = r->WaitFor(0, seconds(30));
    ASSERT_TRUE(got.has_value()) << r->id();
    EXPECT_EQ(got->bytes, v0);
    EXPECT_EQ(got->chunks_skipped, 0);
  }
  // The service sent each byte once; each relay forwarded it once.
  const v1::BroadcastStatus st = Status();
  ASSERT_EQ(st.versions_size(), 1);
  EXPECT_EQ(st.versions(0).bytes_sent_by_service(), static_cast<int64_t>(v0.size()));
  EXPECT_EQ(a->counters().bytes_sent(), static_cast<int64_t>(v0.size()));
  EXPECT_EQ(c->counters().bytes_sent(), 0);

  // One tensor of 16 changes: about one chunk in 16 travels.
  const std::string v1b = TestWeights(16, 32768, 1, /*changed_tensor=*/3, /*changed_seed=*/5);
  const v1::PublishResponse pr = Publish(1, v1b);
  EXPECT_GE(pr.chunks_unchanged(), 110);
  for (auto* r : {a.get(), b.get(), c.get()}) {
    auto got = r->WaitFor(1, seconds(30));
    ASSERT_TRUE(got.has_value()) << r->id();
    EXPECT_EQ(got->bytes, v1b);
    EXPECT_EQ(got->chunks_skipped, pr.chunks_unchanged());
    EXPECT_EQ(got->chunks_fetched, pr.chunks() - pr.chunks_unchanged());
  }
  for (int i = 0; i < 100 && Status().versions(1).seconds_to_all() < 0; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_GE(Status().versions(1).seconds_to_all(), 0);
}

TEST_F(BroadcastTest, ALateJoinerGetsTheNewestFromTheChain) {
  StartServer();
  auto a = Join("a");
  Publish(0, TestWeights(4, 8192, 1));
  ASSERT_TRUE(a->WaitFor(0, seconds(30)));
  const std::string v1b = TestWeights(4, 8192, 2);
  Publish(1, v1b);
  ASSERT_TRUE(a->WaitFor(1, seconds(30)));
  auto late = Join("late");
  EXPECT_EQ(Find("late").parent_id(), "a");
  auto got = late->WaitFor(1, seconds(30));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, v1b);
}

TEST_F(BroadcastTest, ACorruptChunkFailsItsHashAndIsFetchedFromAnotherHolder) {
  StartServer();
  const std::string v0 = TestWeights(4, 8192, 7);
  auto m = BuildManifest(0, v0, options_.chunk_bytes);
  ASSERT_TRUE(m.ok());
  auto bad = StartFakeRelay("bad");
  for (int i = 0; i < m->chunks_size(); ++i) {
    std::string chunk(ChunkOf(v0, *m, i));
    if (i == 1) chunk[100] ^= 0x10;  // one flipped bit
    bad->store.Put(m->chunks(i).hash(), std::make_shared<const std::string>(chunk));
  }
  auto r = Join("r");
  EXPECT_EQ(Find("r").parent_id(), "bad");
  Publish(0, v0);
  auto got = r->WaitFor(0, seconds(30));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, v0);
  EXPECT_GE(r->counters().hash_failures(), 2);  // tried twice from the bad relay
  EXPECT_GE(r->counters().reparents(), 1);
  EXPECT_EQ(Find("r").parent_id(), "root");
}

TEST_F(BroadcastTest, ARelayThatDiesMidTransferLeavesItsChildToResumeWhereItWas) {
  StartServer();
  const std::string v0 = TestWeights(8, 16384, 3);  // 512 KiB: 32 chunks
  auto m = BuildManifest(0, v0, options_.chunk_bytes);
  ASSERT_TRUE(m.ok());
  auto relay = StartFakeRelay("relay");
  relay->park_everything = true;  // the rest is "on its way" to it: keep-alives, no data
  const int half = m->chunks_size() / 2;
  for (int i = 0; i < half; ++i)
    relay->store.Put(m->chunks(i).hash(), std::make_shared<const std::string>(ChunkOf(v0, *m, i)));
  auto child = Join("child");
  Publish(0, v0);
  for (int i = 0; i < 200 && child->counters().bytes_received() < half * options_.chunk_bytes; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(child->counters().bytes_received(), half * options_.chunk_bytes);
  EXPECT_FALSE(child->WaitFor(0, milliseconds(1000)).has_value());  // alive: it waits
  relay->server->Stop();                                            // the relay dies
  auto got = child->WaitFor(0, seconds(30));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, v0);
  // Resumed: nothing it had was fetched again.
  EXPECT_EQ(child->counters().bytes_received(), static_cast<int64_t>(v0.size()));
  EXPECT_EQ(child->counters().reparents(), 1);
}

TEST_F(BroadcastTest, AReceiverStuckOnAVersionSkipsItForTheNewerOne) {
  StartServer();
  auto stuck = StartFakeRelay("stuck");
  stuck->park_everything = true;
  auto r = Join("r");
  Publish(0, TestWeights(4, 8192, 1));
  std::this_thread::sleep_for(milliseconds(300));
  const std::string v1b = TestWeights(4, 8192, 2);
  Publish(1, v1b);
  for (int i = 0; i < 100 && r->counters().versions_skipped() == 0; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(r->counters().versions_skipped(), 1);
  stuck->server->Stop();
  auto got = r->WaitFor(1, seconds(30));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, v1b);
  EXPECT_EQ(r->held_version(), 1);
}

TEST_F(BroadcastTest, AReceiverFarBehindItsParentMovesToTheTail) {
  BroadcastServerOptions o;
  o.slow_lag_chunks = 2;
  StartServer(o);
  auto a = Join("a");
  Publish(0, TestWeights(8, 16384, 1));
  ASSERT_TRUE(a->WaitFor(0, seconds(30)));
  // "slow" reports no progress on version 0 while its parent holds it all.
  grpc::ClientContext jctx;
  v1::JoinRequest jr;
  jr.set_receiver_id("slow");
  jr.set_chunk_endpoint("tcp://127.0.0.1:9");
  v1::JoinResponse jresp;
  ASSERT_TRUE(stub_->Join(&jctx, jr, &jresp).ok());
  auto c = Join("c");
  EXPECT_EQ(Find("c").parent_id(), "slow");
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::SyncRequest s;
    s.set_receiver_id("slow");
    s.set_held_version(-1);
    s.set_fetching_version(0);
    s.set_chunks_done(0);
    s.set_parent_id("a");
    v1::SyncResponse resp;
    ASSERT_TRUE(stub_->Sync(&ctx, s, &resp).ok());
  }
  EXPECT_EQ(Find("c").parent_id(), "a");
  EXPECT_EQ(Find("slow").parent_id(), "c");
}

TEST_F(BroadcastTest, BadInputIsRefusedAndTheNewestVersionKept) {
  StartServer();
  const std::string v0 = TestWeights(2, 1024, 1);
  Publish(0, v0);
  auto opened = BroadcastPublisher::Open(address_, Keys());
  ASSERT_TRUE(opened.ok());
  BroadcastPublisher& pub = **opened;
  auto junk = pub.Publish(1, std::string(4096, 'x'));
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(junk.status().message()).find("header"), std::string::npos)
      << junk.status();
  auto neg = pub.Publish(-3, v0);
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  {
    grpc::ClientContext ctx;  // total_bytes says 10, 20 arrive
    v1::PublishResponse resp;
    auto w = stub_->Publish(&ctx, &resp);
    v1::PublishPart p;
    p.set_version(5);
    p.set_total_bytes(10);
    p.set_data(std::string(20, 'y'));
    w->Write(p);
    w->WritesDone();
    grpc::Status s = w->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("total_bytes = 10"), std::string::npos) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    v1::JoinRequest req;
    req.set_chunk_endpoint("ipc:///tmp/x");
    v1::JoinResponse resp;
    grpc::Status s = stub_->Join(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("chunk_endpoint"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    v1::SyncRequest req;
    req.set_receiver_id("nobody");
    req.set_wait_ms(99999);
    v1::SyncResponse resp;
    EXPECT_EQ(stub_->Sync(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(Status().newest_version(), 0);
  auto r = Join("r");
  auto got = r->WaitFor(0, seconds(30));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, v0);
}

}  // namespace
}  // namespace r1rl::broadcast
