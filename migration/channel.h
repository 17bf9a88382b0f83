// SPDX-License-Identifier: MIT
// Channel: one migration stream endpoint over a socket (TCP, TLS over TCP,
// or Unix) or a file (snapshots). Writes go out with writev straight from
// the caller's buffers (guest memory included); reads fill the caller's
// buffer directly, so received pages land in guest memory without an
// intermediate copy. Over TLS the same holds where the kernel took the
// record layer (kTLS); otherwise bytes go through OpenSSL's records.
//
// Endpoints are written "tcp:HOST:PORT", "tls:HOST:PORT" or "unix:PATH"; a
// file is a plain path. Sockets are non-blocking and every wait on one
// has a time limit (io_timeout: the longest a read or write may make no
// progress; connect and the TLS handshake are bounded by it too), so a
// stalled peer ends in DeadlineExceeded. Every failure names the endpoint
// and how far the stream got.
#ifndef MIGRATION_CHANNEL_H_
#define MIGRATION_CHANNEL_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "migration/tls_credentials.h"
#include "migration/tls_session.h"

namespace migration {

struct Endpoint {
  enum class Kind { kTcp, kTls, kUnix } kind;
  std::string host;  // tcp, tls
  uint16_t port = 0;  // tcp, tls
  std::string path;  // unix
  std::string ToString() const;
};
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text);

// How long a migration socket may make no progress before the stream is
// given up.
inline constexpr absl::Duration kDefaultIoTimeout = absl::Seconds(10);

struct ConnectOptions {
  // Required for tls: endpoints (this side presents the client pair).
  const TlsCredentials* tls = nullptr;
  // Bounds the connect, the handshake and then every read and write.
  absl::Duration io_timeout = kDefaultIoTimeout;
};

class Channel {
 public:
  static absl::StatusOr<Channel> Connect(const Endpoint& endpoint, const ConnectOptions& options = {});
  static absl::StatusOr<Channel> CreateFile(const std::string& path);
  static absl::StatusOr<Channel> OpenFile(const std::string& path);
  // A socket is made non-blocking here (waits are Channel's, with limits).
  Channel(base::UniqueFd fd, std::string name, bool is_socket);
  Channel(Channel&&) = default;
  Channel& operator=(Channel&&) = default;
  ~Channel();

  // Runs the TLS handshake on this socket as `role`, by `deadline`; from
  // then on every read and write is encrypted.
  absl::Status StartTls(const TlsCredentials& credentials, TlsRole role, absl::Time deadline);
  // Who is at the other end and how (for the log), once StartTls is done.
  std::string DescribeTls() const { return tls_ ? tls_->Describe() : "no TLS"; }
  // The record layer: "none" (no TLS), "openssl", "ktls" (see TlsSession).
  std::string Encryption() const { return tls_ ? tls_->RecordLayer() : "none"; }
  absl::Duration io_timeout() const { return io_timeout_; }
  void set_io_timeout(absl::Duration timeout) { io_timeout_ = timeout; }
  // Gives bytes already read back: the next reads return them first (the
  // incoming side checks the preamble before the receiver reads it again).
  void Unread(std::span<const uint8_t> bytes);

  absl::Status WriteAll(std::span<const iovec> iov);
  absl::Status Write(const void* data, size_t size);
  // Reads exactly `size` bytes; a stream that ends first is DataLoss
  // ("truncated").
  absl::Status ReadExact(void* data, size_t size);
  // ReadExact that also ends by `deadline`: each wait lasts at most the
  // io_timeout and never past the deadline (DeadlineExceeded). For the
  // answers of the commit, whose waits are bounded as a whole.
  absl::Status ReadExactBy(void* data, size_t size, absl::Time deadline);
  // Waits up to `timeout` for readable data (sockets); false on timeout.
  // (Decrypted bytes waiting in OpenSSL count as readable.)
  absl::StatusOr<bool> WaitReadable(absl::Duration timeout);
  // Flushes a file to disk (no-op on sockets).
  absl::Status Sync();

  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t bytes_read() const { return bytes_read_; }
  bool is_socket() const { return is_socket_; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }

 private:
  // Waits for `events` up to io_timeout; DeadlineExceeded names the
  // endpoint, the direction and how far the stream got.
  absl::Status WaitForProgress(short events, bool writing);
  // writev on the socket or file (plain, or kTLS-encrypted by the kernel).
  absl::Status WriteVectors(std::span<const iovec> iov);
  // Through OpenSSL's records: small pieces (record headers) gathered into
  // one buffer so they do not each become a record of their own.
  absl::Status WriteRecords(std::span<const iovec> iov);
  absl::Status WriteThroughTls(const uint8_t* data, size_t size);
  // One read of at most `size` bytes; 0 at the end of the stream.
  absl::StatusOr<size_t> ReadSome(void* data, size_t size);

  base::UniqueFd fd_;
  std::string name_;
  bool is_socket_;
  absl::Duration io_timeout_ = kDefaultIoTimeout;
  absl::Time read_deadline_ = absl::InfiniteFuture();  // ReadExactBy's, while it runs
  std::unique_ptr<TlsSession> tls_;
  std::vector<uint8_t> staged_;    // WriteRecords' small pieces
  std::vector<uint8_t> unread_;    // Unread's bytes, returned before the socket's
  size_t unread_offset_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_read_ = 0;
};

class Listener {
 public:
  static absl::StatusOr<Listener> Listen(const Endpoint& endpoint);
  // Waits up to `timeout` for the next connection, named after its peer
  // address. Nothing about it is checked yet: see incoming.h.
  absl::StatusOr<Channel> Accept(absl::Duration timeout);
  const Endpoint& endpoint() const { return endpoint_; }
  ~Listener();
  Listener(Listener&&) = default;
  Listener& operator=(Listener&&) = default;

 private:
  Listener(base::UniqueFd fd, Endpoint endpoint) : fd_(std::move(fd)), endpoint_(std::move(endpoint)) {}
  base::UniqueFd fd_;
  Endpoint endpoint_;
};

}  // namespace migration

#endif  // MIGRATION_CHANNEL_H_
