#include "lib/broadcast/chunk_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "lib/transport/xxh3.h"
#include "r1rl/v1/broadcast.pb.h"

namespace r1rl::broadcast {
namespace {

struct Reply {
  v1::ChunkReply header;
  std::string data;
};

class ChunkServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ChunkServer::Options o;
    o.bind = "tcp://127.0.0.1:0";
    o.advertise_host = "127.0.0.1";
    o.park_ms = 100;
    auto s = ChunkServer::Start(ctx_, o, &store_,
                                [this](const std::string& h, int64_t) { return h == coming_; });
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::rcvtimeo, 3000);
    dealer_.connect(server_->endpoint());
  }

  void Ask(const std::string& hash, int index, int64_t epoch = 1) {
    v1::ChunkRequest r;
    r.set_version(1);
    r.set_index(index);
    r.set_hash(hash);
    r.set_epoch(epoch);
    dealer_.send(zmq::buffer(r.SerializeAsString()), zmq::send_flags::none);
  }

  Reply Next() {
    Reply r;
    zmq::message_t m;
    EXPECT_TRUE(dealer_.recv(m).has_value());
    EXPECT_TRUE(r.header.ParseFromArray(m.data(), static_cast<int>(m.size())));
    if (m.more()) {
      zmq::message_t d;
      EXPECT_TRUE(dealer_.recv(d).has_value());
      r.data = d.to_string();
    }
    return r;
  }

  zmq::context_t ctx_{1};
  ChunkStore store_;
  std::string coming_;
  std::unique_ptr<ChunkServer> server_;
  zmq::socket_t dealer_{ctx_, zmq::socket_type::dealer};
};

TEST_F(ChunkServerTest, ServesHeldChunksAndRefusesOthers) {
  const std::string a(5000, 'a');
  store_.Put(transport::Xxh128(a), std::make_shared<const std::string>(a));
  Ask(transport::Xxh128(a), 0, 7);
  Reply r = Next();
  EXPECT_EQ(r.header.status(), v1::ChunkReply::OK);
  EXPECT_EQ(r.header.epoch(), 7);
  EXPECT_EQ(r.data, a);
  Ask(transport::Xxh128("nope"), 1);
  EXPECT_EQ(Next().header.status(), v1::ChunkReply::NOT_HELD);
  dealer_.send(zmq::buffer(std::string("\xff\xff garbage")), zmq::send_flags::none);
  EXPECT_EQ(Next().header.status(), v1::ChunkReply::BAD_REQUEST);
  EXPECT_EQ(server_->bad_requests(), 1);
  EXPECT_EQ(server_->bytes_sent(), 5000);
}

TEST_F(ChunkServerTest, ParksAChunkOnItsWayWithKeepAlivesThenSendsIt) {
  const std::string b(3000, 'b');
  coming_ = transport::Xxh128(b);
  Ask(coming_, 4);
  EXPECT_EQ(Next().header.status(), v1::ChunkReply::PENDING);  // after park_ms
  store_.Put(coming_, std::make_shared<const std::string>(b));
  server_->Arrived();
  Reply r;
  do {
    r = Next();
  } while (r.header.status() == v1::ChunkReply::PENDING);
  EXPECT_EQ(r.header.status(), v1::ChunkReply::OK);
  EXPECT_EQ(r.header.index(), 4);
  EXPECT_EQ(r.data, b);
}

}  // namespace
}  // namespace r1rl::broadcast
