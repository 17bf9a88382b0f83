// SPDX-License-Identifier: MIT
// TlsCredentials: the certificates and keys of `vmm run --tls-dir DIR`,
// loaded and checked once at start-up, and the two OpenSSL contexts made
// from them: the destination's (presents server-cert.pem) and the source's
// (presents client-cert.pem). Both demand a peer certificate that chains
// to ca-cert.pem and, with a peer name, one whose subjectAltName (or CN)
// matches it.
//
// The directory has QEMU's tls-creds-x509 layout, so existing PKI scripts
// work: ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem,
// client-key.pem. Every problem with a file is one error naming that file,
// found here rather than in the middle of a migration (and before the
// threads are confined: loading reads files, which no confined thread may).
//
// The contexts allow TLS 1.3 only, with AES-GCM (what the kernel's TLS
// offload takes), no session tickets (a NewSessionTicket after the
// handshake would be a non-data record in the way of kTLS reads, and
// nothing here resumes sessions), and ask OpenSSL to hand the record
// layer to the kernel where it can (SSL_OP_ENABLE_KTLS).
#ifndef MIGRATION_TLS_CREDENTIALS_H_
#define MIGRATION_TLS_CREDENTIALS_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace migration {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

enum class TlsRole { kServer, kClient };  // destination, source

class TlsCredentials {
 public:
  // Loads and cross-checks DIR's five files. `peer_name`, when not empty,
  // is the name the peer's certificate must carry (DNS name or IP address
  // in its subjectAltName, or its CN where it has none).
  static absl::StatusOr<std::shared_ptr<const TlsCredentials>> Load(const std::string& dir,
                                                                   const std::string& peer_name);
  // Only Load makes one (the token is private).
  struct Token {
   private:
    Token() = default;
    friend class TlsCredentials;
  };
  TlsCredentials(Token, SslCtxPtr server, SslCtxPtr client, std::string dir, std::string peer_name)
      : server_(std::move(server)), client_(std::move(client)), dir_(std::move(dir)),
        peer_name_(std::move(peer_name)) {}

  SSL_CTX* context(TlsRole role) const { return role == TlsRole::kServer ? server_.get() : client_.get(); }
  const std::string& peer_name() const { return peer_name_; }
  const std::string& dir() const { return dir_; }

 private:
  SslCtxPtr server_;
  SslCtxPtr client_;
  std::string dir_;
  std::string peer_name_;
};

// The first error on OpenSSL's queue for this thread, as text, and clears
// the queue (so a later error is not blamed on an earlier call).
std::string TakeOpensslError();

}  // namespace migration

#endif  // MIGRATION_TLS_CREDENTIALS_H_
