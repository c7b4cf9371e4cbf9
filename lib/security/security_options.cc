#include "lib/security/security_options.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace r1rl::security {

std::string SecurityOptions::Path(const std::string& name) const {
  return absl::StrCat(keys_dir, "/", name);
}

absl::Status Validate(const SecurityOptions& options) {
  if (options.insecure) return absl::OkStatus();
  if (options.keys_dir.empty()) {
    return absl::InvalidArgumentError(
        "security.keys_dir = \"\": no keys to secure the sockets with; make them with `r1rl "
        "keys init DIR` and set security.keys_dir=DIR (or security.insecure=true, for "
        "experiments on a private machine only)");
  }
  struct stat st {};
  if (::stat(options.keys_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("security.keys_dir = ", options.keys_dir,
                                                   ": not a folder (make one with `r1rl keys init ",
                                                   options.keys_dir, "`)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SecurityOptions> SecurityFromConfig(const config::Config& cfg) {
  SecurityOptions o;
  o.insecure = cfg.GetBool("security.insecure");
  o.keys_dir = cfg.GetString("security.keys_dir");
  o.mtls = cfg.GetBool("security.mtls");
  o.metrics_token = cfg.GetBool("security.metrics_token");
  if (absl::Status s = Validate(o); !s.ok()) return s;
  return o;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      return absl::PermissionDeniedError(absl::StrCat(path, ": cannot be read"));
    }
    return absl::NotFoundError(absl::StrCat(path, ": no such file (made by `r1rl keys init`)"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::vector<std::string>> ReadTokens(const SecurityOptions& options, Role role) {
  const std::string path = options.Path(absl::StrCat(RoleName(role), ".token"));
  absl::StatusOr<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return text.status();
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line.size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a token of ", line.size(), " characters; at least 16"));
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no token in it"));
  return tokens;
}

absl::StatusOr<std::string> ClientToken(const SecurityOptions& options, Role role) {
  absl::StatusOr<std::vector<std::string>> tokens = ReadTokens(options, role);
  if (!tokens.ok()) return tokens.status();
  return tokens->front();
}

std::string TokenDigest(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::StatusOr<std::map<std::string, Role>> ServerTokenDigests(const SecurityOptions& options) {
  std::map<std::string, Role> by_digest;
  const std::string path = options.Path("tokens.sha256");
  absl::StatusOr<std::string> text = ReadKeyFile(path);
  if (text.ok()) {
    int n = 0;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      ++n;
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') continue;
      std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      const auto role = parts.size() == 2 ? ParseRole(parts[0]) : std::nullopt;
      if (!role || parts[1].size() != 64 ||
          parts[1].find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " line ", n, ": \"", line, "\": want \"<role> <64 hex digits>\""));
      }
      by_digest[std::string(parts[1])] = *role;
    }
  } else if (absl::IsNotFound(text.status())) {
    for (Role role : {Role::kWorker, Role::kGrader, Role::kAdmin, Role::kMetrics}) {
      absl::StatusOr<std::vector<std::string>> tokens = ReadTokens(options, role);
      if (absl::IsNotFound(tokens.status())) continue;
      if (!tokens.ok()) return tokens.status();
      for (const std::string& t : *tokens) by_digest[TokenDigest(t)] = role;
    }
  } else {
    return text.status();
  }
  if (by_digest.empty()) {
    return absl::NotFoundError(absl::StrCat(
        options.keys_dir, ": no tokens.sha256 and no <role>.token to check calls with"));
  }
  return by_digest;
}

absl::StatusOr<metrics::ExposerOptions> MetricsOptions(const SecurityOptions& options) {
  metrics::ExposerOptions o;
  if (options.insecure || !options.metrics_token) return o;
  absl::StatusOr<std::map<std::string, Role>> digests = ServerTokenDigests(options);
  if (!digests.ok()) return digests.status();
  std::set<std::string> allowed;
  for (const auto& [digest, role] : *digests) {
    if (role == Role::kMetrics) allowed.insert(digest);
  }
  if (allowed.empty()) {
    return absl::NotFoundError(absl::StrCat(
        options.keys_dir, ": security.metrics_token is on but no metrics token is listed"));
  }
  o.check_token = [allowed](const std::string& token) {
    return allowed.count(TokenDigest(token)) > 0;
  };
  return o;
}

std::string InsecureWarning(const SecurityOptions& options, const std::string& service) {
  if (!options.insecure) return "";
  return absl::StrCat(service,
                      ": WARNING: security.insecure = true: no TLS, no tokens, no CurveZMQ; "
                      "anyone who can reach this process's ports can steer training "
                      "(r1rl_security_insecure is 1 on /metrics)");
}

}  // namespace r1rl::security
