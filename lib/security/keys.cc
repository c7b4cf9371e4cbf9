#include "lib/security/keys.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/security/security_options.h"

namespace r1rl::security {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

absl::Status OpenSslError(const std::string& what) {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return absl::InternalError(absl::StrCat("keys: ", what, ": ", buf));
}

// Created with `mode` (then set exactly, whatever the umask), so a secret is never readable
// by others, even for a moment.
absl::Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 || ::fchmod(fd, mode) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot be written (", why, ")"));
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ::close(fd);
      return absl::ResourceExhaustedError(absl::StrCat(path, ": write failed (disk full?)"));
    }
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Pem(const std::function<int(BIO*)>& write, const char* what) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OpenSslError(absl::StrCat("PEM of ", what));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<Pkey> NewKey() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("EC P-256 key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(absl::StrCat("extension ", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? absl::OkStatus() : OpenSslError(absl::StrCat("extension ", value));
}

// A certificate for `key` named `cn`, signed by (issuer, issuer_key); self-signed when
// issuer is null. `extensions` are (nid, value) in OpenSSL's config syntax.
absl::StatusOr<Cert> NewCert(EVP_PKEY* key, const std::string& cn, X509* issuer,
                             EVP_PKEY* issuer_key, int days,
                             const std::vector<std::pair<int, std::string>>& extensions) {
  Cert cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // an hour of clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("r1rl"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions) {
    if (absl::Status s = AddExtension(cert.get(), signer, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return OpenSslError(absl::StrCat("signing ", cn));
  }
  return cert;
}

absl::Status WritePair(const std::string& dir, const std::string& stem, X509* cert, EVP_PKEY* key) {
  auto cert_pem = Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); }, "certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = Pem(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      },
      "private key");
  if (!key_pem.ok()) return key_pem.status();
  if (absl::Status s = WriteFile(absl::StrCat(dir, "/", stem, ".crt"), *cert_pem, 0644); !s.ok())
    return s;
  return WriteFile(absl::StrCat(dir, "/", stem, ".key"), *key_pem, 0600);
}

absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("token");
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::Status InitKeys(const std::string& dir, const KeysInitOptions& options) {
  if (options.days < 1 || options.days > 3650) {
    return absl::InvalidArgumentError(
        absl::StrCat("--days = ", options.days, ": must be in [1, 3650]"));
  }
  std::vector<std::string> san = {absl::StrCat("DNS:", kServerName), "DNS:localhost",
                                  "IP:127.0.0.1", "IP:::1"};
  for (const std::string& host : options.hosts) {
    if (host.empty() || host.find_first_of(",: \t") != std::string::npos) {
      if (!IsIp(host)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--host = \"", host, "\": not a host name or IP address"));
      }
    }
    san.push_back(absl::StrCat(IsIp(host) ? "IP:" : "DNS:", host));
  }
  struct stat st {};
  if (::stat(absl::StrCat(dir, "/ca.crt").c_str(), &st) == 0 && !options.force) {
    return absl::AlreadyExistsError(absl::StrCat(
        dir, " already holds keys (ca.crt); rotate by making a new folder, or --force"));
  }
  for (const std::string& d : {dir, absl::StrCat(dir, "/curve")}) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);  // parents too, like mkdir -p
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat(d, ": cannot make the folder: ", ec.message()));
    }
    ::chmod(d.c_str(), 0700);
  }

  // The certificate authority.
  auto ca_key = NewKey();
  if (!ca_key.ok()) return ca_key.status();
  auto ca = NewCert(ca_key->get(), "r1rl cluster CA", nullptr, nullptr, options.days,
                    {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}});
  if (!ca.ok()) return ca.status();
  if (absl::Status s = WritePair(dir, "ca", ca->get(), ca_key->get()); !s.ok()) return s;

  // The servers' certificate, then one client certificate per role (mutual TLS).
  auto issue = [&](const std::string& stem, const std::string& cn, const std::string& eku,
                   const std::string& alt) -> absl::Status {
    auto key = NewKey();
    if (!key.ok()) return key.status();
    std::vector<std::pair<int, std::string>> ext = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyAgreement"},
        {NID_ext_key_usage, eku},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}};
    if (!alt.empty()) ext.emplace_back(NID_subject_alt_name, alt);
    auto cert = NewCert(key->get(), cn, ca->get(), ca_key->get(), options.days, ext);
    if (!cert.ok()) return cert.status();
    return WritePair(dir, stem, cert->get(), key->get());
  };
  if (absl::Status s = issue("server", kServerName, "serverAuth", absl::StrJoin(san, ","));
      !s.ok()) {
    return s;
  }
  for (const char* role : {"worker", "grader", "admin"}) {
    if (absl::Status s =
            issue(absl::StrCat("client-", role), absl::StrCat("r1rl-", role), "clientAuth", "");
        !s.ok()) {
      return s;
    }
  }

  // Bearer tokens, and their digests for the servers.
  std::string digests = "# <role> <SHA-256 of a token>: what servers accept (r1rl keys init)\n";
  for (const char* role : {"worker", "grader", "admin", "metrics"}) {
    auto token = NewToken();
    if (!token.ok()) return token.status();
    if (absl::Status s = WriteFile(absl::StrCat(dir, "/", role, ".token"), *token + "\n", 0600);
        !s.ok()) {
      return s;
    }
    absl::StrAppend(&digests, role, " ", TokenDigest(*token), "\n");
  }
  if (absl::Status s = WriteFile(absl::StrCat(dir, "/tokens.sha256"), digests, 0644); !s.ok()) {
    return s;
  }

  // CurveZMQ key pairs.
  for (const char* role : kCurveRoles) {
    char pub[41] = {0}, secret[41] = {0};
    if (zmq_curve_keypair(pub, secret) != 0) {
      return absl::InternalError(
          absl::StrCat("keys: zmq_curve_keypair: ", zmq_strerror(zmq_errno()),
                       " (libzmq built without CURVE?)"));
    }
    if (absl::Status s =
            WriteFile(absl::StrCat(dir, "/curve/", role, ".pub"), std::string(pub) + "\n", 0644);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            WriteFile(absl::StrCat(dir, "/curve/", role, ".key"), std::string(secret) + "\n", 0600);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace r1rl::security
