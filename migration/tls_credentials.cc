// SPDX-License-Identifier: MIT
#include "migration/tls_credentials.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace migration {
namespace {

// The kernel's TLS offload takes AES-GCM; CHACHA20 would keep every
// record in OpenSSL.
constexpr const char* kCipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";

struct Files {
  std::string ca, cert, key;
};

Files FilesFor(const std::string& dir, TlsRole role) {
  const char* who = role == TlsRole::kServer ? "server" : "client";
  return {.ca = dir + "/ca-cert.pem", .cert = absl::StrCat(dir, "/", who, "-cert.pem"),
          .key = absl::StrCat(dir, "/", who, "-key.pem")};
}

absl::Status FileError(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("--tls-dir: ", path, ": ", what));
}

// An encrypted key would make OpenSSL prompt on the terminal; refuse it.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::Status CheckReadable(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) return FileError(path, std::strerror(errno));
  return absl::OkStatus();
}

// Checks that this side's own certificate chains to the CA, for its role:
// the peer will check exactly that, and it is better found at start-up.
absl::Status CheckOwnCertificate(SSL_CTX* ctx, const Files& files, TlsRole role) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!check || X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), cert, chain) != 1) {
    return absl::InternalError(absl::StrCat("cannot check ", files.cert, ": ", TakeOpensslError()));
  }
  X509_STORE_CTX_set_purpose(check.get(), role == TlsRole::kServer ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(check.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(check.get());
    ERR_clear_error();
    return FileError(files.cert, absl::StrCat("does not verify against ", files.ca, ": ",
                                              X509_verify_cert_error_string(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<SslCtxPtr> MakeContext(const std::string& dir, TlsRole role) {
  const Files files = FilesFor(dir, role);
  for (const std::string* path : {&files.ca, &files.cert, &files.key}) RETURN_IF_ERROR(CheckReadable(*path));
  SslCtxPtr ctx(SSL_CTX_new(role == TlsRole::kServer ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", TakeOpensslError()));
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_default_passwd_cb(c, NoPassphrase);
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 || SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(c, kCipherSuites) != 1) {
    return absl::InternalError(absl::StrCat("this OpenSSL has no TLS 1.3 with AES-GCM: ", TakeOpensslError()));
  }
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  // A connection closed without close_notify reads as the end of the
  // stream: the migration stream has its own end record, so a cut short
  // stream is still found truncated, with the offset where it ended.
  SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS | SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Record-layer writes may return after part of a buffer, and be resumed
  // from a moved pointer (Channel's write loop resumes where it stopped).
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_load_verify_locations(c, files.ca.c_str(), nullptr) != 1) {
    return FileError(files.ca, absl::StrCat("not a PEM CA certificate: ", TakeOpensslError()));
  }
  if (SSL_CTX_use_certificate_chain_file(c, files.cert.c_str()) != 1) {
    return FileError(files.cert, absl::StrCat("not a PEM certificate: ", TakeOpensslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(c, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return FileError(files.key, absl::StrCat("does not belong to ", files.cert));
    }
    return FileError(files.key,
                     absl::StrCat("not an unencrypted PEM private key: ", TakeOpensslError()));
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();
    return FileError(files.key, absl::StrCat("does not belong to ", files.cert));
  }
  RETURN_IF_ERROR(CheckOwnCertificate(c, files, role));
  // Both sides demand a certificate from the other.
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

}  // namespace

std::string TakeOpensslError() {
  const unsigned long error = ERR_get_error();
  ERR_clear_error();
  if (error == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(error, text, sizeof(text));
  return text;
}

absl::StatusOr<std::shared_ptr<const TlsCredentials>> TlsCredentials::Load(const std::string& dir,
                                                                          const std::string& peer_name) {
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-dir '", dir, "' is not a directory"));
  }
  ERR_clear_error();
  ASSIGN_OR_RETURN(SslCtxPtr server, MakeContext(dir, TlsRole::kServer));
  ASSIGN_OR_RETURN(SslCtxPtr client, MakeContext(dir, TlsRole::kClient));
  // Seed OpenSSL's random generator now, while this thread may still read
  // the kernel's entropy any way OpenSSL likes; later handshakes on
  // confined threads draw from it (and reseed with getrandom only).
  unsigned char byte;
  if (RAND_bytes(&byte, 1) != 1) return absl::InternalError(absl::StrCat("RAND_bytes: ", TakeOpensslError()));
  return std::make_shared<const TlsCredentials>(Token(), std::move(server), std::move(client), dir, peer_name);
}

}  // namespace migration
