// Channel: one migration stream endpoint over a socket (TCP or Unix) or a
// file (snapshots). Writes go out with writev straight from the caller's
// buffers (guest memory included); reads fill the caller's buffer directly,
// so received pages land in guest memory without an intermediate copy.
//
// Endpoints are written "tcp:HOST:PORT" or "unix:PATH"; a file is a plain
// path. Every failure names the endpoint and how far the stream got.
#ifndef MIGRATION_CHANNEL_H_
#define MIGRATION_CHANNEL_H_

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace migration {

struct Endpoint {
  enum class Kind { kTcp, kUnix } kind;
  std::string host;  // tcp
  uint16_t port = 0;  // tcp
  std::string path;  // unix
  std::string ToString() const;
};
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text);

class Channel {
 public:
  static absl::StatusOr<Channel> Connect(const Endpoint& endpoint);
  static absl::StatusOr<Channel> CreateFile(const std::string& path);
  static absl::StatusOr<Channel> OpenFile(const std::string& path);
  Channel(base::UniqueFd fd, std::string name, bool is_socket)
      : fd_(std::move(fd)), name_(std::move(name)), is_socket_(is_socket) {}

  absl::Status WriteAll(std::span<const iovec> iov);
  absl::Status Write(const void* data, size_t size);
  // Reads exactly `size` bytes; a stream that ends first is DataLoss
  // ("truncated").
  absl::Status ReadExact(void* data, size_t size);
  // Waits up to `timeout` for readable data (sockets); false on timeout.
  absl::StatusOr<bool> WaitReadable(absl::Duration timeout);
  // Flushes a file to disk (no-op on sockets).
  absl::Status Sync();

  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t bytes_read() const { return bytes_read_; }
  bool is_socket() const { return is_socket_; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }

 private:
  base::UniqueFd fd_;
  std::string name_;
  bool is_socket_;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_read_ = 0;
};

class Listener {
 public:
  static absl::StatusOr<Listener> Listen(const Endpoint& endpoint);
  // Waits for the one source; `timeout` bounds the wait.
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
