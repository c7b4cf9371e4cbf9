#include "lib/security/grpc_security.h"

#include <grpcpp/security/auth_metadata_processor.h>

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/security/keys.h"

namespace r1rl::security {
namespace {

class TokenProcessor : public grpc::AuthMetadataProcessor {
 public:
  TokenProcessor(std::map<std::string, Role> digests, metrics::Family<metrics::Counter>* refused)
      : digests_(std::move(digests)), refused_(refused) {}

  bool IsBlocking() const override { return false; }  // a map lookup: no thread needed

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed, OutputMetadata* /*response*/) override {
    std::string method = "unknown";
    if (auto p = metadata.find(":path"); p != metadata.end()) {
      method.assign(p->second.data(), p->second.size());
    }
    if (IsOpenMethod(method)) return grpc::Status::OK;
    const auto auth = metadata.find("authorization");
    if (auth == metadata.end()) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED, "unauthenticated", method,
                    "no token: send \"authorization: Bearer <token>\" (security.keys_dir)");
    }
    const std::string value(auth->second.data(), auth->second.size());
    const auto found = absl::StartsWith(value, "Bearer ")
                           ? digests_.find(TokenDigest(value.substr(7)))
                           : digests_.end();
    if (found == digests_.end()) {
      return Refuse(grpc::StatusCode::UNAUTHENTICATED, "unauthenticated", method, "unknown token");
    }
    if (!RoleMayCall(found->second, method)) {
      return Refuse(grpc::StatusCode::PERMISSION_DENIED, "permission_denied", method,
                    absl::StrCat("the ", RoleName(found->second), " role may not call ", method));
    }
    consumed->insert({"authorization", value});
    return grpc::Status::OK;
  }

 private:
  grpc::Status Refuse(grpc::StatusCode code, const char* reason, const std::string& method,
                      const std::string& message) {
    if (refused_ != nullptr) refused_->Add({{"reason", reason}, {"method", method}}).Increment();
    return grpc::Status(code, message);
  }

  const std::map<std::string, Role> digests_;  // SHA-256 of each accepted token -> its role
  metrics::Family<metrics::Counter>* refused_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const SecurityOptions& options, metrics::Registry* registry) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  metrics::Family<metrics::Counter>* refused = nullptr;
  if (registry != nullptr) {
    registry
        ->GetOrAddGauge("r1rl_security_insecure",
                        "1 when this process runs with security.insecure = true: no TLS, tokens or "
                        "CurveZMQ, anyone on the network can steer training.")
        .Add({})
        .Set(options.insecure ? 1 : 0);
    refused = &registry->GetOrAddCounter(
        "r1rl_grpc_refused_total",
        "gRPC calls refused before reaching the service: no or unknown token "
        "(unauthenticated) or a role that may not call the method (permission_denied).");
  }
  if (options.insecure) return grpc::InsecureServerCredentials();
  auto cert = ReadKeyFile(options.Path("server.crt"));
  if (!cert.ok()) return cert.status();
  auto key = ReadKeyFile(options.Path("server.key"));
  if (!key.ok()) return key.status();
  auto tokens = ServerTokenDigests(options);
  if (!tokens.ok()) return tokens.status();
  grpc::SslServerCredentialsOptions ssl(
      options.mtls ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (options.mtls) {
    auto ca = ReadKeyFile(options.Path("ca.crt"));
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(ssl);
  creds->SetAuthMetadataProcessor(std::make_shared<TokenProcessor>(std::move(*tokens), refused));
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const std::string& target,
                                                           const SecurityOptions& options,
                                                           Role role, grpc::ChannelArguments args) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  if (options.insecure) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  auto ca = ReadKeyFile(options.Path("ca.crt"));
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ca;
  if (options.mtls) {
    const std::string stem = absl::StrCat("client-", RoleName(role));
    auto cert = ReadKeyFile(options.Path(stem + ".crt"));
    if (!cert.ok()) return cert.status();
    auto key = ReadKeyFile(options.Path(stem + ".key"));
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  auto token = ClientToken(options, role);
  if (!token.ok()) return token.status();
  args.SetSslTargetNameOverride(kServerName);
  auto creds = grpc::CompositeChannelCredentials(grpc::SslCredentials(ssl),
                                                 grpc::AccessTokenCredentials(*token));
  return grpc::CreateCustomChannel(target, creds, args);
}

}  // namespace r1rl::security
