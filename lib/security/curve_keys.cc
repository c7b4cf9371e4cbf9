#include "lib/security/curve_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace r1rl::security {
namespace {

bool IsZ85Key(absl::string_view s) {
  if (s.size() != 40) return false;
  static constexpr absl::string_view kZ85 =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return s.find_first_not_of(kZ85) == absl::string_view::npos;
}

absl::StatusOr<std::string> FirstKey(const std::string& path) {
  auto text = ReadKeyFile(path);
  if (!text.ok()) return text.status();
  const std::string key(absl::StripAsciiWhitespace(*text).substr(0, 40));
  if (!IsZ85Key(key)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a Z85 CurveZMQ key"));
  }
  return key;
}

// `self`'s own key pair into k (plain-text settings stay when security.insecure).
absl::Status OwnPair(const SecurityOptions& options, const std::string& self,
                     transport::CurveKeys* k) {
  auto pub = FirstKey(options.Path(absl::StrCat("curve/", self, ".pub")));
  if (!pub.ok()) return pub.status();
  auto secret = FirstKey(options.Path(absl::StrCat("curve/", self, ".key")));
  if (!secret.ok()) return secret.status();
  k->public_key = *pub;
  k->secret_key = *secret;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::set<std::string>> CurvePublicKeys(const SecurityOptions& options,
                                                      const std::string& role) {
  const std::string path = options.Path(absl::StrCat("curve/", role, ".pub"));
  auto text = ReadKeyFile(path);
  if (!text.ok()) return text.status();
  std::set<std::string> keys;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++n;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (!IsZ85Key(line)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", n, ": not a 40-character Z85 CurveZMQ key"));
    }
    keys.emplace(line);
  }
  if (keys.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no key in it"));
  return keys;
}

absl::StatusOr<transport::CurveKeys> CurveServer(const SecurityOptions& options,
                                                 const std::string& self,
                                                 const std::string& zap_domain) {
  transport::CurveKeys k;
  if (options.insecure) return k;
  if (absl::Status s = OwnPair(options, self, &k); !s.ok()) return s;
  k.zap_domain = zap_domain;
  return k;
}

absl::StatusOr<transport::CurveKeys> CurveClient(const SecurityOptions& options,
                                                 const std::string& self,
                                                 const std::string& server_role) {
  transport::CurveKeys k;
  if (options.insecure) return k;
  if (absl::Status s = OwnPair(options, self, &k); !s.ok()) return s;
  auto server = FirstKey(options.Path(absl::StrCat("curve/", server_role, ".pub")));
  if (!server.ok()) return server.status();
  k.server_key = *server;
  return k;
}

absl::StatusOr<std::unique_ptr<transport::ZapHandler>> StartZap(
    zmq::context_t& context, const SecurityOptions& options,
    const std::map<std::string, std::string>& domain_roles, metrics::Registry* registry) {
  if (options.insecure) return std::unique_ptr<transport::ZapHandler>();
  transport::ZapHandler::AllowLists allow;
  for (const auto& [domain, role] : domain_roles) {
    auto keys = CurvePublicKeys(options, role);
    if (!keys.ok()) return keys.status();
    allow[domain] = std::move(*keys);
  }
  metrics::Family<metrics::Counter>* refused = nullptr;
  if (registry != nullptr) {
    refused = &registry->GetOrAddCounter(
        "r1rl_zmq_refused_total",
        "ZeroMQ connections refused by CurveZMQ authentication (a key not on the socket's "
        "allow-list), by ZAP domain; nothing they send is received.");
    for (const auto& [domain, role] : domain_roles) refused->Add({{"domain", domain}});
  }
  return transport::ZapHandler::Start(context, std::move(allow),
                                      [refused](const std::string& domain, const std::string&) {
                                        if (refused != nullptr)
                                          refused->Add({{"domain", domain}}).Increment();
                                      });
}

}  // namespace r1rl::security
