// The gRPC security layer over real sockets: keys made by InitKeys, a real TLS server with
// the token processor in front of the Controller and Admin services, and clients holding
// each role's token (the token-role table), no token, an unknown token, plain text, a
// foreign CA, and with mutual TLS a client without a certificate (the mTLS table).
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace r1rl::security {
namespace {

// The services behind the auth layer answer OK: what is tested is who gets through.
class Open : public v1::Controller::Service, public v1::Admin::Service {
  grpc::Status LeasePrompts(grpc::ServerContext*, const v1::LeasePromptsRequest*,
                            v1::LeasePromptsResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status Drain(grpc::ServerContext*, const v1::AdminRequest*,
                     v1::ControllerStatus*) override {
    return grpc::Status::OK;
  }
};

std::string Dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/security_test_" + name;
  std::system(("rm -rf " + dir).c_str());
  return dir;
}

struct Server {
  Open service;
  std::unique_ptr<grpc::Server> server;
  metrics::Registry registry;
  int port = 0;
  Server(const SecurityOptions& o) {
    auto creds = ServerCredentials(o, &registry);
    EXPECT_TRUE(creds.ok()) << creds.status();
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", *creds, &port);
    b.RegisterService(static_cast<v1::Controller::Service*>(&service));
    b.RegisterService(static_cast<v1::Admin::Service*>(&service));
    server = b.BuildAndStart();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  double Refused(const std::string& reason, const std::string& method) {
    return registry.GetOrAddCounter("r1rl_grpc_refused_total", "")
        .Add({{"reason", reason}, {"method", method}})
        .Value();
  }
};

// A TLS channel to the server (trusting `keys`' CA) that sends `token` ("" = none).
std::shared_ptr<grpc::Channel> Channel(const Server& s, const SecurityOptions& keys,
                                       const std::string& token) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ReadKeyFile(keys.Path("ca.crt"));
  auto creds = grpc::SslCredentials(ssl);
  if (!token.empty()) {
    creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kServerName);
  return grpc::CreateCustomChannel(s.address(), creds, args);
}

grpc::StatusCode Lease(const std::shared_ptr<grpc::Channel>& ch) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::LeasePromptsResponse r;
  return v1::Controller::NewStub(ch)->LeasePrompts(&ctx, {}, &r).error_code();
}
grpc::StatusCode Drain(const std::shared_ptr<grpc::Channel>& ch) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ControllerStatus r;
  return v1::Admin::NewStub(ch)->Drain(&ctx, {}, &r).error_code();
}
grpc::StatusCode Health(const std::shared_ptr<grpc::Channel>& ch) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse r;
  return grpc::health::v1::Health::NewStub(ch)->Check(&ctx, {}, &r).error_code();
}

TEST(Roles, Table) {
  EXPECT_TRUE(RoleMayCall(Role::kWorker, "/r1rl.v1.Controller/LeasePrompts"));
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.Admin/Drain"));
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.ParamBroadcast/Publish"));
  // Where the collective group meets, and how a version went: the learner's (admin) only.
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.ParamBroadcast/Rendezvous"));
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.ParamBroadcast/CollectiveDone"));
  EXPECT_TRUE(RoleMayCall(Role::kAdmin, "/r1rl.v1.ParamBroadcast/Rendezvous"));
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.RewardGrader/Grade"));
  EXPECT_FALSE(RoleMayCall(Role::kGrader, "/r1rl.v1.Controller/Register"));
  EXPECT_FALSE(RoleMayCall(Role::kMetrics, "/r1rl.v1.Controller/Register"));
  EXPECT_TRUE(RoleMayCall(Role::kAdmin, "/r1rl.v1.Admin/Drain"));
  EXPECT_TRUE(RoleMayCall(Role::kAdmin, "/r1rl.v1.Future/Anything"));
  EXPECT_FALSE(RoleMayCall(Role::kWorker, "/r1rl.v1.Future/Anything"));
  EXPECT_TRUE(IsOpenMethod("/grpc.health.v1.Health/Check"));
  EXPECT_EQ(ParseRole("grader"), Role::kGrader);
  EXPECT_EQ(ParseRole("root"), std::nullopt);
}

TEST(Keys, InitWritesEveryFileWithPrivateModes) {
  const std::string dir = Dir("init");
  ASSERT_TRUE(InitKeys(dir, {{"learner", "10.0.0.7"}, 30, false}).ok());
  for (const char* f :
       {"ca.crt", "server.crt", "client-worker.crt", "client-admin.key", "worker.token",
        "admin.token", "metrics.token", "curve/learner.pub", "curve/grader.key", "tokens.sha256"}) {
    struct stat st {};
    ASSERT_EQ(stat((dir + "/" + f).c_str(), &st), 0) << f;
    const bool secret = std::string(f).find(".key") != std::string::npos ||
                        std::string(f).find(".token") != std::string::npos;
    EXPECT_EQ(st.st_mode & 0777, secret ? 0600u : 0644u) << f;
  }
  SecurityOptions o{false, dir};
  auto worker = ClientToken(o, Role::kWorker), admin = ClientToken(o, Role::kAdmin);
  ASSERT_TRUE(worker.ok() && admin.ok());
  EXPECT_EQ(worker->size(), 64u);
  EXPECT_NE(*worker, *admin);
  EXPECT_EQ(ReadKeyFile(dir + "/curve/worker.pub")->size(), 41u);  // Z85 + newline
  // A second init refuses to clobber the keys; bad arguments name themselves.
  EXPECT_TRUE(absl::IsAlreadyExists(InitKeys(dir, {})));
  EXPECT_TRUE(InitKeys(dir, {{}, 30, true}).ok());
  auto bad_host = InitKeys(Dir("bad"), {{"a host"}, 30, false});
  EXPECT_NE(bad_host.message().find("--host = \"a host\""), std::string::npos) << bad_host;
  EXPECT_NE(InitKeys(Dir("bad"), {{}, 0, false}).message().find("--days = 0"), std::string::npos);
}

TEST(Options, SecureByDefaultNeedsKeys) {
  auto s = Validate(SecurityOptions{});
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("security.keys_dir"), std::string::npos);
  EXPECT_NE(s.message().find("r1rl keys init"), std::string::npos);
  SecurityOptions insecure;
  insecure.insecure = true;
  EXPECT_TRUE(Validate(insecure).ok());
  EXPECT_NE(Validate(SecurityOptions{false, "/nonexistent"}).message().find("not a folder"),
            std::string::npos);
  EXPECT_NE(InsecureWarning(insecure, "r1rl-learner").find("WARNING"), std::string::npos);
}

// Who gets through: each row a caller, each column a method.
TEST(Grpc, TokenRoleTable) {
  const std::string dir = Dir("roles");
  ASSERT_TRUE(InitKeys(dir, {}).ok());
  SecurityOptions o{false, dir};
  Server s(o);
  ASSERT_GT(s.port, 0);
  using C = grpc::StatusCode;
  struct Row {
    std::string who, token;
    C lease, drain, health;
  };
  const std::vector<Row> rows = {
      {"no token", "", C::UNAUTHENTICATED, C::UNAUTHENTICATED, C::OK},
      {"unknown token", std::string(64, 'a'), C::UNAUTHENTICATED, C::UNAUTHENTICATED, C::OK},
      {"worker", *ClientToken(o, Role::kWorker), C::OK, C::PERMISSION_DENIED, C::OK},
      {"grader", *ClientToken(o, Role::kGrader), C::PERMISSION_DENIED, C::PERMISSION_DENIED, C::OK},
      {"metrics", *ClientToken(o, Role::kMetrics), C::PERMISSION_DENIED, C::PERMISSION_DENIED,
       C::OK},
      {"admin", *ClientToken(o, Role::kAdmin), C::OK, C::OK, C::OK},
  };
  for (const Row& r : rows) {
    auto ch = Channel(s, o, r.token);
    EXPECT_EQ(Lease(ch), r.lease) << r.who << " LeasePrompts";
    EXPECT_EQ(Drain(ch), r.drain) << r.who << " Drain";
    EXPECT_EQ(Health(ch), r.health) << r.who << " Health.Check";
  }
  EXPECT_EQ(s.Refused("unauthenticated", "/r1rl.v1.Admin/Drain"), 2);
  EXPECT_EQ(s.Refused("permission_denied", "/r1rl.v1.Admin/Drain"), 3);
  EXPECT_EQ(s.Refused("permission_denied", "/r1rl.v1.Controller/LeasePrompts"), 2);
  EXPECT_NE(s.registry.Serialize().find("r1rl_security_insecure 0"), std::string::npos);

  // OpenChannel gives each role its own token.
  EXPECT_EQ(Lease(*OpenChannel(s.address(), o, Role::kWorker)), C::OK);
  EXPECT_EQ(Drain(*OpenChannel(s.address(), o, Role::kWorker)), C::PERMISSION_DENIED);
  EXPECT_EQ(Drain(*OpenChannel(s.address(), o, Role::kAdmin)), C::OK);

  // Plain text to a TLS port, and TLS trusting another cluster's CA, reach nothing.
  EXPECT_EQ(Health(grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials())),
            C::UNAVAILABLE);
  const std::string other = Dir("other");
  ASSERT_TRUE(InitKeys(other, {}).ok());
  SecurityOptions foreign{false, other};
  EXPECT_EQ(Health(*OpenChannel(s.address(), foreign, Role::kAdmin)), C::UNAVAILABLE);
}

// Rotation: every digest in tokens.sha256 is accepted; clients send their file's first token.
TEST(Grpc, RotatedTokensAreAllAccepted) {
  const std::string dir = Dir("rotate");
  ASSERT_TRUE(InitKeys(dir, {}).ok());
  SecurityOptions o{false, dir};
  const std::string old_token = *ClientToken(o, Role::kWorker);
  const std::string new_token(64, 'b');
  std::ofstream(dir + "/tokens.sha256", std::ios::app)
      << "worker " << TokenDigest(new_token) << "\n";
  std::ofstream(dir + "/worker.token") << new_token << "\n";
  Server s(o);
  EXPECT_EQ(Lease(Channel(s, o, old_token)), grpc::StatusCode::OK);
  EXPECT_EQ(Lease(Channel(s, o, new_token)), grpc::StatusCode::OK);
  EXPECT_EQ(*ClientToken(o, Role::kWorker), new_token);
  std::ofstream(dir + "/worker.token") << "short\n";
  EXPECT_NE(ClientToken(o, Role::kWorker).status().message().find("at least 16"),
            std::string::npos);
}

// A server that holds no token at all (its Secret has server.crt/.key and tokens.sha256
// only) still checks every role; a malformed digest line is named.
TEST(Grpc, ServersCheckDigestsNotTokens) {
  const std::string dir = Dir("digests");
  ASSERT_TRUE(InitKeys(dir, {}).ok());
  SecurityOptions client{false, dir};
  const std::string server_dir = Dir("digests_server");
  std::system(("mkdir -p " + server_dir + " && cp " + dir + "/server.* " + dir + "/tokens.sha256 " +
               server_dir + "/")
                  .c_str());
  SecurityOptions o{false, server_dir};
  Server s(o);
  ASSERT_GT(s.port, 0);
  EXPECT_EQ(Lease(*OpenChannel(s.address(), client, Role::kWorker)), grpc::StatusCode::OK);
  EXPECT_EQ(Drain(*OpenChannel(s.address(), client, Role::kWorker)),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Drain(*OpenChannel(s.address(), client, Role::kAdmin)), grpc::StatusCode::OK);
  std::ofstream(server_dir + "/tokens.sha256", std::ios::app) << "root 1234\n";
  auto bad = ServerTokenDigests(o);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("\"root 1234\""), std::string::npos) << bad.status();
}

// Mutual TLS: a client certificate from the cluster's CA is required on top of the token.
TEST(Grpc, MutualTlsTable) {
  const std::string dir = Dir("mtls");
  ASSERT_TRUE(InitKeys(dir, {}).ok());
  SecurityOptions o{false, dir, /*mtls=*/true};
  Server s(o);
  ASSERT_GT(s.port, 0);
  SecurityOptions no_cert{false, dir, /*mtls=*/false};
  const std::string other = Dir("mtls_other");
  ASSERT_TRUE(InitKeys(other, {}).ok());
  // A certificate from another CA, with this cluster's CA trusted and its token.
  std::system(("cp " + dir + "/ca.crt " + dir + "/*.token " + other + "/").c_str());
  SecurityOptions foreign_cert{false, other, /*mtls=*/true};
  using C = grpc::StatusCode;
  EXPECT_EQ(Lease(*OpenChannel(s.address(), o, Role::kWorker)), C::OK) << "cert + token";
  EXPECT_EQ(Drain(*OpenChannel(s.address(), o, Role::kWorker)), C::PERMISSION_DENIED);
  EXPECT_EQ(Lease(*OpenChannel(s.address(), no_cert, Role::kWorker)), C::UNAVAILABLE)
      << "token, no certificate";
  EXPECT_EQ(Lease(*OpenChannel(s.address(), foreign_cert, Role::kWorker)), C::UNAVAILABLE)
      << "token, certificate from another CA";
  EXPECT_EQ(Lease(Channel(s, o, "")), C::UNAVAILABLE) << "no certificate, no token";
}

}  // namespace
}  // namespace r1rl::security
