// SPDX-License-Identifier: MIT
#include "migration/tls_session.h"

#include <arpa/inet.h>
#include <linux/tls.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "migration/io_wait.h"

namespace migration {
namespace {

// TLS record content types (RFC 8446, 5.1) and the alert that closes a
// stream cleanly.
constexpr unsigned char kAlertRecord = 21;
constexpr unsigned char kHandshakeRecord = 22;
constexpr unsigned char kApplicationData = 23;
constexpr unsigned char kCloseNotify = 0;

// The name the peer's certificate must carry: an IP address is matched
// against its IP subjectAltNames, anything else as a host name (DNS
// subjectAltNames, or the CN where there are none).
bool ExpectPeerName(SSL* ssl, const std::string& name) {
  in6_addr any;
  if (::inet_pton(AF_INET, name.c_str(), &any) == 1 || ::inet_pton(AF_INET6, name.c_str(), &any) == 1) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  }
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::Handshake(const TlsCredentials& credentials, TlsRole role,
                                                                 int fd, absl::Time deadline,
                                                                 const std::string& peer) {
  ERR_clear_error();
  SSL* ssl = SSL_new(credentials.context(role));
  if (ssl == nullptr) return absl::InternalError(absl::StrCat("SSL_new: ", TakeOpensslError()));
  std::unique_ptr<TlsSession> session = absl::WrapUnique(new TlsSession(ssl, fd));
  if (SSL_set_fd(ssl, fd) != 1 ||
      (!credentials.peer_name().empty() && !ExpectPeerName(ssl, credentials.peer_name()))) {
    return absl::InternalError(absl::StrCat("TLS set-up for ", peer, ": ", TakeOpensslError()));
  }
  if (role == TlsRole::kServer) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  while (true) {
    const int result = SSL_do_handshake(ssl);
    if (result == 1) break;
    const int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      absl::StatusOr<bool> ready = WaitUntil(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (!ready.ok()) return ready.status();
      if (!*ready) {
        return absl::DeadlineExceededError(absl::StrCat("the TLS handshake with ", peer, " did not finish in time"));
      }
      continue;
    }
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return absl::PermissionDeniedError(absl::StrCat("TLS handshake with ", peer, ": its certificate is refused: ",
                                                      X509_verify_cert_error_string(verify)));
    }
    if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      const int saved = errno;
      return absl::UnavailableError(absl::StrCat("TLS handshake with ", peer, ": the connection ",
                                                 saved == 0 ? "closed" : std::strerror(saved)));
    }
    // Typically the peer refusing this side's certificate (an alert).
    return absl::PermissionDeniedError(absl::StrCat("TLS handshake with ", peer, " failed: ", TakeOpensslError()));
  }
  session->kernel_sends_ = BIO_get_ktls_send(SSL_get_wbio(ssl));
  session->kernel_receives_ = BIO_get_ktls_recv(SSL_get_rbio(ssl));
  return session;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

std::string TlsSession::RecordLayer() const {
  if (kernel_sends_ && kernel_receives_) return "ktls";
  if (kernel_sends_) return "ktls-send";
  if (kernel_receives_) return "ktls-receive";
  return "openssl";
}

bool TlsSession::HasPending() const { return !kernel_receives_ && SSL_has_pending(ssl_) == 1; }

std::string TlsSession::Describe() const {
  std::string subject = "no certificate";
  if (X509* cert = SSL_get0_peer_certificate(ssl_); cert != nullptr) {
    char text[256];
    X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof(text));
    subject = text;
  }
  return absl::StrCat(SSL_get_version(ssl_), " ", SSL_get_cipher_name(ssl_), ", peer ", subject);
}

IoStep TlsSession::OpensslStep(int result, size_t moved, const char* what) {
  if (result == 1) return {.moved = moved};
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ: return {.wait_for = POLLIN};
    case SSL_ERROR_WANT_WRITE: return {.wait_for = POLLOUT};
    case SSL_ERROR_ZERO_RETURN: return {.ended = true};  // close_notify
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        if (errno == 0) return {.ended = true};  // closed without close_notify
        return {.error = absl::ErrnoToStatus(errno, what)};
      }
      break;
    default: break;
  }
  return {.error = absl::DataLossError(absl::StrCat(what, ": TLS error: ", TakeOpensslError()))};
}

IoStep TlsSession::Write(const void* data, size_t size) {
  ERR_clear_error();
  errno = 0;
  size_t written = 0;
  const int result = SSL_write_ex(ssl_, data, size, &written);
  return OpensslStep(result, written, "TLS write");
}

IoStep TlsSession::Read(void* data, size_t size) {
  if (kernel_receives_) return KernelRead(data, size);
  ERR_clear_error();
  errno = 0;
  size_t read = 0;
  const int result = SSL_read_ex(ssl_, data, size, &read);
  return OpensslStep(result, read, "TLS read");
}

// recvmsg with room for the record type: application data lands straight
// in the caller's buffer; any other record (which a plain read() would
// fail on with EIO) comes back with its type, and its body in the buffer.
IoStep TlsSession::KernelRead(void* data, size_t size) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(unsigned char))];
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd_, &msg, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return {.wait_for = POLLIN};
    return {.error = absl::ErrnoToStatus(errno, "kernel TLS read")};
  }
  if (n == 0) return {.ended = true};
  unsigned char type = kApplicationData;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE) type = *CMSG_DATA(c);
  }
  if (type == kApplicationData) return {.moved = static_cast<size_t>(n)};
  const auto* body = static_cast<const unsigned char*>(data);
  if (type == kAlertRecord && n >= 2 && body[1] == kCloseNotify) return {.ended = true};
  if (type == kAlertRecord && n >= 2) {
    return {.error = absl::DataLossError(absl::StrFormat("the peer sent TLS alert %d", body[1]))};
  }
  // No tickets are issued and no key update is asked for, so a peer that
  // sends a post-handshake message is not one of ours.
  return {.error = absl::DataLossError(absl::StrFormat("unexpected TLS record of type %d%s", type,
                                                       type == kHandshakeRecord ? " (a post-handshake message)" : ""))};
}

}  // namespace migration
