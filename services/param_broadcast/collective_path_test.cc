// The broadcast's collective path end to end in one process, every socket real: the service
// (gRPC, ZeroMQ), a worker's receiver and collective receiver, and the learner's publisher and
// collective sender, the group on Gloo over loopback. A version goes through the group and
// arrives whole; a poisoned root (tensors that are not what it published) is refused by the
// receiver's hash check and the version comes through the relay chain instead; the next
// version forms a new generation and goes through the group again.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "lib/broadcast/collective_receiver.h"
#include "lib/broadcast/collective_sender.h"
#include "lib/broadcast/publisher.h"
#include "lib/broadcast/receiver.h"
#include "lib/broadcast/test_weights.h"
#include "lib/safetensors/safetensors.h"
#include "lib/security/keys.h"
#include "services/param_broadcast/broadcast_server.h"

namespace r1rl::broadcast {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Weights {
  std::string bytes;  // as published
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;  // the same values, sorted by name
};

Weights Make(uint32_t seed) {
  Weights w;
  w.bytes = TestWeights(/*tensors=*/5, /*floats=*/3000, seed);
  auto file = safetensors::SafetensorsFile::FromBuffer(w.bytes, "test");
  EXPECT_TRUE(file.ok()) << file.status();
  std::map<std::string, at::Tensor> sorted;
  for (const safetensors::TensorView& v : (*file)->tensors()) {
    sorted[v.name] =
        torch::from_blob(const_cast<uint8_t*>(v.data), v.shape, torch::kFloat32).clone();
  }
  for (auto& [name, t] : sorted) {
    w.names.push_back(name);
    w.tensors.push_back(t);
  }
  return w;
}

class CollectivePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/collective_path_" + std::to_string(getpid());
    ASSERT_TRUE(security::InitKeys(dir_, {{}, 30, true}).ok());
    security_.keys_dir = dir_;
    BroadcastServerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.chunk_address = "tcp://127.0.0.1:0";
    o.advertise_host = "127.0.0.1";
    o.metrics_address = "127.0.0.1:0";
    o.chunk_bytes = 16384;
    o.sync_wait_ms = 300;
    o.receiver_timeout_ms = 5000;
    o.relay_timeout_ms = 600;
    o.security = security_;
    o.collective = true;
    o.collective_timeout_s = 20;
    auto s = BroadcastServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    const std::string address = "127.0.0.1:" + std::to_string(server_->grpc_port());

    ReceiverOptions ro;
    ro.service = address;
    ro.security = security_;
    ro.bind = "tcp://127.0.0.1:0";
    ro.advertise_host = "127.0.0.1";
    ro.receiver_id = "worker-1";
    ro.progress_ms = 50;
    ro.collective = true;
    auto rx = Receiver::Start(ro);
    ASSERT_TRUE(rx.ok()) << rx.status();
    rx_ = std::move(*rx);
    CollectiveReceiverOptions co;
    co.timeout = seconds(20);
    auto crx = CollectiveReceiver::Start(rx_.get(), co);
    ASSERT_TRUE(crx.ok()) << crx.status();
    crx_ = std::move(*crx);
    for (int i = 0; i < 200 && !rx_->connected(); ++i)
      std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(rx_->connected());

    auto pub = BroadcastPublisher::Open(address, security_);
    ASSERT_TRUE(pub.ok()) << pub.status();
    publisher_ = std::move(*pub);
    CollectiveSenderOptions so;
    so.host = "127.0.0.1";
    so.backend = distributed::Backend::kGloo;
    so.bucket_bytes = 5000;  // a few buckets, tensors across their edges
    so.timeout = seconds(20);
    sender_ = std::make_unique<CollectiveSender>(publisher_.get(), so);
  }
  void TearDown() override {
    crx_.reset();
    rx_.reset();
    sender_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Publishes `published` as `version`, then sends `sent` through the group the answer names.
  v1::CollectiveGroupInfo PublishAndSend(int64_t version, const Weights& published,
                                         std::vector<at::Tensor> sent) {
    auto r = publisher_->Publish(version, published.bytes, /*collective=*/true);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->has_collective());
    EXPECT_EQ(r->collective().world_size(), 2);
    auto st = sender_->Send(version, r->collective(),
                            [&](std::vector<std::string>* n, std::vector<at::Tensor>* t) {
                              *n = published.names;
                              *t = sent;
                            });
    EXPECT_TRUE(st.ok()) << st.status();
    return r->collective();
  }

  // What TakeInto hands over for `version`: nullopt when it says to use the relay chains.
  std::optional<std::vector<at::Tensor>> Take(int64_t version) {
    std::vector<at::Tensor> got;
    auto took = crx_->TakeInto(version, seconds(20),
                               [&](int64_t v, const std::vector<std::string>& names,
                                   const std::vector<at::Tensor>& tensors) {
                                 EXPECT_EQ(v, version);
                                 EXPECT_EQ(names.size(), tensors.size());
                                 got = tensors;
                                 return absl::OkStatus();
                               });
    EXPECT_TRUE(took.ok()) << took.status();
    if (!took.ok() || !*took) return std::nullopt;
    return got;
  }

  std::string dir_;
  security::SecurityOptions security_;
  std::unique_ptr<BroadcastServer> server_;
  std::unique_ptr<Receiver> rx_;
  std::unique_ptr<CollectiveReceiver> crx_;
  std::unique_ptr<BroadcastPublisher> publisher_;
  std::unique_ptr<CollectiveSender> sender_;
};

TEST_F(CollectivePathTest, VersionsGoThroughTheGroupAndAPoisonedRootIsRefused) {
  // Version 0 through generation 1.
  const Weights w0 = Make(1);
  const v1::CollectiveGroupInfo g1 = PublishAndSend(0, w0, w0.tensors);
  EXPECT_EQ(g1.generation(), 1);
  auto got = Take(0);
  ASSERT_TRUE(got.has_value()) << "version 0 did not come through the group";
  ASSERT_EQ(got->size(), w0.tensors.size());
  for (size_t i = 0; i < got->size(); ++i) EXPECT_TRUE(torch::equal((*got)[i], w0.tensors[i]));
  for (int i = 0; i < 100 && rx_->held_version() != 0; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(rx_->held_version(), 0);               // reported held through the group
  EXPECT_EQ(rx_->counters().bytes_received(), 0);  // nothing from a relay parent

  // Version 1: the root sends other values than it published (a store hijacked on the
  // group's unauthenticated sockets would): refused, and the relay chain brings it.
  const Weights w1 = Make(2);
  std::vector<at::Tensor> poisoned;
  for (const at::Tensor& t : w1.tensors) poisoned.push_back(t.clone());
  poisoned[3][7] = 1234.5f;
  EXPECT_EQ(PublishAndSend(1, w1, poisoned).generation(), 1);  // the same group
  EXPECT_FALSE(Take(1).has_value());
  EXPECT_EQ(crx_->stats().hash_failures, 1);
  auto relayed = rx_->WaitFor(1, seconds(20));
  ASSERT_TRUE(relayed.has_value()) << "version 1 did not come through the relay chain";
  EXPECT_EQ(relayed->bytes, w1.bytes);

  // Version 2: a new generation (the failed one is not used again), through the group.
  const Weights w2 = Make(3);
  EXPECT_EQ(PublishAndSend(2, w2, w2.tensors).generation(), 2);
  got = Take(2);
  ASSERT_TRUE(got.has_value()) << "version 2 did not come through the new generation";
  for (size_t i = 0; i < got->size(); ++i) EXPECT_TRUE(torch::equal((*got)[i], w2.tensors[i]));
  EXPECT_EQ(crx_->stats().versions, 2);
}

}  // namespace
}  // namespace r1rl::broadcast
