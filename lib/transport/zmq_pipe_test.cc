// The data plane's pipes on real ZeroMQ sockets over loopback: every message sent reaches
// the pump in order, a draining pump takes what reached the socket before it stops, a send
// without a peer gives up when told, and bad addresses are named with their config key.
#include "lib/transport/zmq_pipe.h"

#include <chrono>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace r1rl::transport {
namespace {

TEST(ZmqPipe, PumpReceivesEverySentMessageInOrder) {
  zmq::context_t ctx(1);
  auto in = OpenSocket(ctx, zmq::socket_type::pull, {"tcp://127.0.0.1:0", true}, "test.in");
  ASSERT_TRUE(in.ok()) << in.status();
  const std::string endpoint = BoundEndpoint(**in);
  EXPECT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint;
  auto out = OpenSocket(ctx, zmq::socket_type::push, {endpoint, false, 100, 0, 1000}, "test.out");
  ASSERT_TRUE(out.ok()) << out.status();
  std::mutex mu;
  std::vector<std::string> got;
  Pump pump(**in, [&](zmq::message_t& m) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(m.to_string());
  });
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(SendBlocking(**out, "m" + std::to_string(i), [] { return true; }));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (got.size() == 200) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pump.Stop();
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
  EXPECT_EQ(pump.received(), 200);
  pump.Stop();  // idempotent
}

TEST(ZmqPipe, DrainingPumpTakesWhatArrivedBeforeStop) {
  zmq::context_t ctx(1);
  auto in = OpenSocket(ctx, zmq::socket_type::pull, {"tcp://127.0.0.1:0", true}, "test.in");
  ASSERT_TRUE(in.ok());
  auto out = OpenSocket(ctx, zmq::socket_type::push, {BoundEndpoint(**in), false, 100, 0, 1000},
                        "test.out");
  ASSERT_TRUE(out.ok());
  std::atomic<int> n{0};
  std::atomic<bool> slow{true};
  Pump pump(
      **in,
      [&](zmq::message_t&) {
        if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++n;
      },
      /*drain=*/true);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(SendBlocking(**out, "x", [] { return true; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pump.Stop();  // most of the 20 are still queued: a draining pump takes them all
  EXPECT_EQ(n.load(), 20);
}

TEST(ZmqPipe, SendWithoutPeerGivesUpWhenTold) {
  zmq::context_t ctx(1);
  auto out = OpenSocket(ctx, zmq::socket_type::push, {"tcp://127.0.0.1:0", true, 20}, "test.out");
  ASSERT_TRUE(out.ok());
  int tries = 0;
  EXPECT_FALSE(SendBlocking(**out, "lost", [&] { return ++tries < 3; }));
  EXPECT_EQ(tries, 3);
}

TEST(ZmqPipe, BadAddressNamesTheField) {
  zmq::context_t ctx(1);
  auto bad =
      OpenSocket(ctx, zmq::socket_type::pull, {"nonsense://x", true}, "learner.ingest_address");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("learner.ingest_address = nonsense://x"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace r1rl::transport
