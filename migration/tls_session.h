// SPDX-License-Identifier: MIT
// TlsSession: one TLS 1.3 connection over a connected non-blocking socket,
// after a mutually authenticated handshake (TlsCredentials' contexts).
//
// After the handshake OpenSSL hands each direction's record layer to the
// kernel where it can (kTLS: the socket then encrypts what write/writev
// give it and decrypts what read/recvmsg take, so pages go out straight
// from guest memory); a direction the kernel does not take stays in
// OpenSSL (SSL_write/SSL_read, which encrypt through OpenSSL's buffer).
// Channel asks which, and moves bytes itself on a kTLS direction.
//
// Trust boundary: the peer is untrusted until the handshake has verified
// its certificate chain against the CA (and its name, when one is set);
// a peer that fails is refused with the reason, and the socket is the
// caller's to close.
#ifndef MIGRATION_TLS_SESSION_H_
#define MIGRATION_TLS_SESSION_H_

#include <openssl/ssl.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migration/tls_credentials.h"

namespace migration {

// One attempt at moving bytes on a non-blocking socket: `moved` bytes
// (>0), or nothing yet and the poll events to wait for, or the end of the
// stream (the peer closed it), or an error.
struct IoStep {
  size_t moved = 0;
  short wait_for = 0;
  bool ended = false;
  absl::Status error;
};

class TlsSession {
 public:
  // Runs the handshake on `fd` (connected, non-blocking) as `role`,
  // finishing by `deadline`. `peer` names the other end in errors.
  static absl::StatusOr<std::unique_ptr<TlsSession>> Handshake(const TlsCredentials& credentials, TlsRole role,
                                                              int fd, absl::Time deadline, const std::string& peer);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Whether the kernel holds this direction's record layer.
  bool kernel_sends() const { return kernel_sends_; }
  bool kernel_receives() const { return kernel_receives_; }
  // "ktls" (both directions in the kernel), "openssl" (neither), or the
  // one direction the kernel took ("ktls-send" / "ktls-receive").
  std::string RecordLayer() const;
  // Decrypted bytes waiting in OpenSSL (not on the socket).
  bool HasPending() const;
  // Who the peer's certificate names, and the cipher: for the log line.
  std::string Describe() const;

  // Through OpenSSL's records (the directions the kernel did not take).
  IoStep Write(const void* data, size_t size);
  // Either way: OpenSSL's records, or the kernel's, where a record that is
  // not application data (an alert, a post-handshake message) ends the
  // stream or is an error instead of being read as data.
  IoStep Read(void* data, size_t size);

 private:
  TlsSession(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  IoStep OpensslStep(int result, size_t moved, const char* what);
  IoStep KernelRead(void* data, size_t size);

  SSL* ssl_;
  int fd_;
  bool kernel_sends_ = false;
  bool kernel_receives_ = false;
};

}  // namespace migration

#endif  // MIGRATION_TLS_SESSION_H_
