#include "lib/broadcast/publisher.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "lib/security/grpc_security.h"

namespace r1rl::broadcast {

absl::StatusOr<std::unique_ptr<BroadcastPublisher>> BroadcastPublisher::Open(
    const std::string& address, const security::SecurityOptions& security,
    std::chrono::milliseconds timeout) {
  auto channel = security::OpenChannel(address, security, security::Role::kAdmin);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<BroadcastPublisher> p(new BroadcastPublisher());
  p->address_ = address;
  p->timeout_ = timeout;
  p->channel_ = std::move(*channel);
  p->stub_ = v1::ParamBroadcast::NewStub(p->channel_);
  return p;
}

absl::StatusOr<v1::PublishResponse> BroadcastPublisher::Publish(int64_t version,
                                                                std::string_view bytes,
                                                                bool collective) {
  constexpr size_t kPart = size_t{1} << 20;
  // A service starting up is waited for (briefly); one that is down fails the call fast.
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
    return absl::UnavailableError(
        absl::StrCat("publish version ", version, ": ", address_, " does not answer (10 s)"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  v1::PublishResponse resp;
  auto writer = stub_->Publish(&ctx, &resp);
  size_t off = 0;
  bool first = true;
  while (first || off < bytes.size()) {
    v1::PublishPart part;
    if (first) {
      part.set_version(version);
      part.set_total_bytes(static_cast<int64_t>(bytes.size()));
      part.set_collective(collective);
    }
    const size_t n = std::min(kPart, bytes.size() - off);
    part.set_data(bytes.data() + off, n);
    off += n;
    first = false;
    if (!writer->Write(part)) break;  // the server ended the call: Finish says why
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        absl::StrCat("publish version ", version, " to ", address_, ": ", s.error_message()));
  }
  return resp;
}

namespace {

template <typename Call>
absl::Status Unary(const std::string& what, const std::string& address, Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = call(&ctx);
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, " to ", address, ": ", s.error_message()));
}

}  // namespace

absl::Status BroadcastPublisher::Rendezvous(const v1::RendezvousRequest& request) {
  v1::RendezvousResponse resp;
  return Unary("rendezvous", address_,
               [&](grpc::ClientContext* ctx) { return stub_->Rendezvous(ctx, request, &resp); });
}

absl::Status BroadcastPublisher::CollectiveDone(const v1::CollectiveReport& report) {
  v1::CollectiveReportResponse resp;
  return Unary("collective report", address_,
               [&](grpc::ClientContext* ctx) { return stub_->CollectiveDone(ctx, report, &resp); });
}

}  // namespace r1rl::broadcast
