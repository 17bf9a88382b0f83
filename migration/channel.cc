// SPDX-License-Identifier: MIT
#include "migration/channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "migration/io_wait.h"

namespace migration {
namespace {

// Large socket buffers keep the sender streaming while the receiver writes
// into guest memory; the kernel clamps them to net.core.{w,r}mem_max.
constexpr int kSocketBuffer = 8 << 20;

void TuneSocket(int fd, bool tcp) {
  int size = kSocketBuffer;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (tcp) {
    // Small control records (the final state, the ack) must not wait for
    // Nagle; page records are large anyway.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
}

// Connections wait here while an earlier one is checked (and, if it is not
// the source, dropped): a port scan must not make the real source's
// connect fail.
constexpr int kBacklog = 16;

// "10.0.0.1:5555" / "[fe80::1]:5555" for the log lines about a peer.
std::string PeerAddress(const sockaddr_storage& peer) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat("[", host, "]:", port);
}

// A Unix peer has no address; its process is what the log can name.
std::string UnixPeer(int fd) {
  ucred cred{};
  socklen_t size = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return "a local peer";
  return absl::StrFormat("local pid %d (uid %u)", cred.pid, cred.uid);
}

absl::StatusOr<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path '", path, "' is empty or too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

absl::StatusOr<addrinfo*> Resolve(const Endpoint& e, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  std::string port = absl::StrCat(e.port);
  int err = ::getaddrinfo(e.host.empty() ? nullptr : e.host.c_str(), port.c_str(), &hints, &result);
  if (err != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", e.ToString(), ": ", ::gai_strerror(err)));
  }
  return result;
}

// Resolves a TCP endpoint and gives each address in turn a fresh socket
// and `use` (connect, or bind and listen) until one works; the error names
// what failed last.
template <typename Use>
absl::StatusOr<base::UniqueFd> FirstWorkingAddress(const Endpoint& endpoint, bool passive, const char* what,
                                                   Use use) {
  absl::StatusOr<addrinfo*> resolved = Resolve(endpoint, passive);
  if (!resolved.ok()) return resolved.status();
  int last_errno = passive ? EADDRNOTAVAIL : ECONNREFUSED;
  for (addrinfo* ai = *resolved; ai != nullptr; ai = ai->ai_next) {
    base::UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.valid() && use(fd.get(), ai)) {
      ::freeaddrinfo(*resolved);
      return fd;
    }
    last_errno = errno;
  }
  ::freeaddrinfo(*resolved);
  return absl::ErrnoToStatus(last_errno, absl::StrCat(what, " ", endpoint.ToString()));
}

}  // namespace

std::string Endpoint::ToString() const {
  if (kind == Kind::kUnix) return absl::StrCat("unix:", path);
  const char* scheme = kind == Kind::kTls ? "tls:" : "tcp:";
  if (host.find(':') != std::string::npos) return absl::StrCat(scheme, "[", host, "]:", port);
  return absl::StrCat(scheme, host, ":", port);
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text) {
  Endpoint e;
  if (absl::ConsumePrefix(&text, "unix:")) {
    e.kind = Endpoint::Kind::kUnix;
    e.path = std::string(text);
    if (e.path.empty()) return absl::InvalidArgumentError("unix: endpoint needs a path (unix:PATH)");
    return e;
  }
  const absl::string_view typed = text;
  if (absl::ConsumePrefix(&text, "tcp:")) {
    e.kind = Endpoint::Kind::kTcp;
  } else if (absl::ConsumePrefix(&text, "tls:")) {
    e.kind = Endpoint::Kind::kTls;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", std::string(text), "' must be tls:HOST:PORT, tcp:HOST:PORT or unix:PATH"));
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint '", std::string(typed), "' needs a port"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", std::string(typed), "': port '", std::string(text.substr(colon + 1)),
                     "' must be 1..65535"));
  }
  e.host = std::string(host);
  e.port = static_cast<uint16_t>(port);
  return e;
}

namespace {

// connect() on a non-blocking socket, finished by `deadline`.
bool ConnectBy(int fd, const sockaddr* addr, socklen_t len, absl::Time deadline) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  if (::connect(fd, addr, len) == 0) return true;
  if (errno != EINPROGRESS) return false;
  absl::StatusOr<bool> ready = WaitUntil(fd, POLLOUT, deadline);
  if (!ready.ok() || !*ready) {
    errno = ETIMEDOUT;
    return false;
  }
  int error = 0;
  socklen_t size = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return false;
  errno = error;
  return error == 0;
}

}  // namespace

absl::StatusOr<Channel> Channel::Connect(const Endpoint& endpoint, const ConnectOptions& options) {
  if (endpoint.kind == Endpoint::Kind::kTls && options.tls == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(endpoint.ToString(), " needs TLS credentials: start the VMM with --tls-dir DIR"));
  }
  const absl::Time deadline = absl::Now() + options.io_timeout;
  std::optional<Channel> channel;
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    absl::StatusOr<sockaddr_un> addr = UnixAddress(endpoint.path);
    if (!addr.ok()) return addr.status();
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
    TuneSocket(fd.get(), false);
    if (!ConnectBy(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr), deadline)) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot connect to ", endpoint.ToString()));
    }
    channel.emplace(std::move(fd), endpoint.ToString(), true);
  } else {
    absl::StatusOr<base::UniqueFd> fd =
        FirstWorkingAddress(endpoint, false, "cannot connect to", [deadline](int fd, const addrinfo* ai) {
          TuneSocket(fd, true);
          return ConnectBy(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        });
    if (!fd.ok()) return fd.status();
    channel.emplace(std::move(*fd), endpoint.ToString(), true);
  }
  channel->set_io_timeout(options.io_timeout);
  if (endpoint.kind == Endpoint::Kind::kTls) {
    RETURN_IF_ERROR(channel->StartTls(*options.tls, TlsRole::kClient, deadline));
  }
  return std::move(*channel);
}

absl::StatusOr<Channel> Channel::CreateFile(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  return Channel(std::move(fd), path, false);
}

absl::StatusOr<Channel> Channel::OpenFile(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return Channel(std::move(fd), path, false);
}

Channel::Channel(base::UniqueFd fd, std::string name, bool is_socket)
    : fd_(std::move(fd)), name_(std::move(name)), is_socket_(is_socket) {
  if (is_socket_) {
    const int flags = ::fcntl(fd_.get(), F_GETFL);
    if (flags >= 0) ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
  }
}

Channel::~Channel() = default;

absl::Status Channel::StartTls(const TlsCredentials& credentials, TlsRole role, absl::Time deadline) {
  ASSIGN_OR_RETURN(tls_, TlsSession::Handshake(credentials, role, fd_.get(), deadline, name_));
  return absl::OkStatus();
}

void Channel::Unread(std::span<const uint8_t> bytes) {
  unread_.erase(unread_.begin(), unread_.begin() + static_cast<ptrdiff_t>(unread_offset_));
  unread_offset_ = 0;
  unread_.insert(unread_.begin(), bytes.begin(), bytes.end());
  bytes_read_ -= std::min<uint64_t>(bytes_read_, bytes.size());
}

absl::Status Channel::WaitForProgress(short events, bool writing) {
  const absl::Time until = writing ? absl::Now() + io_timeout_ : std::min(absl::Now() + io_timeout_, read_deadline_);
  ASSIGN_OR_RETURN(bool ready, WaitUntil(fd_.get(), events, until));
  if (ready) return absl::OkStatus();
  if (!writing && until == read_deadline_) {
    return absl::DeadlineExceededError(
        absl::StrFormat("reading from %s: the deadline passed in the middle of a record, after %u bytes", name_,
                        bytes_read_));
  }
  return absl::DeadlineExceededError(absl::StrFormat(
      "%s %s made no progress for %s (the peer stalled?) after %u bytes", writing ? "writing to" : "reading from",
      name_, absl::FormatDuration(io_timeout_), writing ? bytes_written_ : bytes_read_));
}

absl::Status Channel::WriteAll(std::span<const iovec> iov) {
  if (tls_ && !tls_->kernel_sends()) return WriteRecords(iov);
  return WriteVectors(iov);
}

absl::Status Channel::WriteVectors(std::span<const iovec> iov_in) {
  std::vector<iovec> iov(iov_in.begin(), iov_in.end());
  size_t first = 0;
  while (first < iov.size() && iov[first].iov_len == 0) ++first;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd_.get(), iov.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        RETURN_IF_ERROR(WaitForProgress(POLLOUT, true));
        continue;
      }
      return absl::ErrnoToStatus(errno, absl::StrFormat("writing to %s after %u bytes", name_, bytes_written_));
    }
    bytes_written_ += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
    while (first < iov.size() && iov[first].iov_len == 0) ++first;
  }
  return absl::OkStatus();
}

absl::Status Channel::WriteRecords(std::span<const iovec> iov) {
  // A TLS record carries at most 16 KiB; pieces smaller than that are
  // gathered, larger ones (page payloads) go to OpenSSL as they are.
  constexpr size_t kRecordBytes = 16 << 10;
  for (const iovec& piece : iov) {
    const auto* data = static_cast<const uint8_t*>(piece.iov_base);
    if (piece.iov_len < kRecordBytes) {
      staged_.insert(staged_.end(), data, data + piece.iov_len);
      if (staged_.size() < kRecordBytes) continue;
    }
    if (!staged_.empty()) {
      RETURN_IF_ERROR(WriteThroughTls(staged_.data(), staged_.size()));
      staged_.clear();
    }
    if (piece.iov_len >= kRecordBytes) RETURN_IF_ERROR(WriteThroughTls(data, piece.iov_len));
  }
  if (!staged_.empty()) {
    RETURN_IF_ERROR(WriteThroughTls(staged_.data(), staged_.size()));
    staged_.clear();
  }
  return absl::OkStatus();
}

absl::Status Channel::WriteThroughTls(const uint8_t* data, size_t size) {
  while (size > 0) {
    IoStep step = tls_->Write(data, size);
    if (!step.error.ok()) {
      return absl::Status(step.error.code(), absl::StrFormat("writing to %s after %u bytes: %s", name_,
                                                             bytes_written_, step.error.message()));
    }
    if (step.ended) {
      return absl::UnavailableError(
          absl::StrFormat("writing to %s after %u bytes: the peer closed the connection", name_, bytes_written_));
    }
    if (step.wait_for != 0) {
      RETURN_IF_ERROR(WaitForProgress(step.wait_for, true));
      continue;
    }
    bytes_written_ += step.moved;
    data += step.moved;
    size -= step.moved;
  }
  return absl::OkStatus();
}

absl::Status Channel::Write(const void* data, size_t size) {
  iovec iov{const_cast<void*>(data), size};
  return WriteAll({&iov, 1});
}

absl::StatusOr<size_t> Channel::ReadSome(void* data, size_t size) {
  if (unread_offset_ < unread_.size()) {
    const size_t n = std::min(size, unread_.size() - unread_offset_);
    std::memcpy(data, unread_.data() + unread_offset_, n);
    unread_offset_ += n;
    if (unread_offset_ == unread_.size()) {
      unread_.clear();
      unread_offset_ = 0;
    }
    return n;
  }
  while (true) {
    IoStep step;
    if (tls_) {
      step = tls_->Read(data, size);
    } else {
      const ssize_t n = ::read(fd_.get(), data, size);
      if (n > 0) {
        step.moved = static_cast<size_t>(n);
      } else if (n == 0) {
        step.ended = true;
      } else if (errno == EAGAIN || errno == EINTR) {
        step.wait_for = errno == EAGAIN ? POLLIN : 0;
        if (step.wait_for == 0) continue;
      } else {
        step.error = absl::ErrnoToStatus(errno, "read");
      }
    }
    if (!step.error.ok()) {
      return absl::Status(step.error.code(), absl::StrFormat("reading from %s after %u bytes: %s", name_,
                                                             bytes_read_, step.error.message()));
    }
    if (step.ended) return 0;
    if (step.wait_for != 0) {
      RETURN_IF_ERROR(WaitForProgress(step.wait_for, false));
      continue;
    }
    return step.moved;
  }
}

absl::Status Channel::ReadExact(void* data, size_t size) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    ASSIGN_OR_RETURN(size_t n, ReadSome(p, size));
    if (n == 0) {
      return absl::DataLossError(
          absl::StrFormat("the stream from %s ended early (truncated) after %u bytes", name_, bytes_read_));
    }
    bytes_read_ += n;
    p += n;
    size -= n;
  }
  return absl::OkStatus();
}

absl::Status Channel::ReadExactBy(void* data, size_t size, absl::Time deadline) {
  read_deadline_ = deadline;
  absl::Status st = ReadExact(data, size);
  read_deadline_ = absl::InfiniteFuture();
  return st;
}

absl::StatusOr<bool> Channel::WaitReadable(absl::Duration timeout) {
  if (unread_offset_ < unread_.size() || (tls_ && tls_->HasPending())) return true;
  return WaitUntil(fd_.get(), POLLIN, absl::Now() + timeout);
}

absl::Status Channel::Sync() {
  if (is_socket_) return absl::OkStatus();
  if (::fsync(fd_.get()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("fsync of ", name_));
  return absl::OkStatus();
}

absl::StatusOr<Listener> Listener::Listen(const Endpoint& endpoint) {
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    absl::StatusOr<sockaddr_un> addr = UnixAddress(endpoint.path);
    if (!addr.ok()) return addr.status();
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
    ::unlink(endpoint.path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0 ||
        ::listen(fd.get(), kBacklog) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot listen on ", endpoint.ToString()));
    }
    return Listener(std::move(fd), endpoint);
  }
  absl::StatusOr<base::UniqueFd> fd =
      FirstWorkingAddress(endpoint, true, "cannot listen on", [](int fd, const addrinfo* ai) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        TuneSocket(fd, true);  // inherited by the accepted socket
        return ::fcntl(fd, F_SETFL, O_NONBLOCK) == 0 && ::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
               ::listen(fd, kBacklog) == 0;
      });
  if (!fd.ok()) return fd.status();
  return Listener(std::move(*fd), endpoint);
}

absl::StatusOr<Channel> Listener::Accept(absl::Duration timeout) {
  const absl::Time deadline = timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  while (true) {
    ASSIGN_OR_RETURN(bool ready, WaitUntil(fd_.get(), POLLIN, deadline));
    if (!ready) {
      return absl::DeadlineExceededError(absl::StrCat("no migration source connected to ", endpoint_.ToString(),
                                                      " within ", absl::FormatDuration(timeout)));
    }
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof(peer);
    base::UniqueFd fd(::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_size, SOCK_CLOEXEC));
    if (!fd.valid()) {
      // The connection went away between poll and accept: wait for the next.
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("accept on ", endpoint_.ToString()));
    }
    const bool tcp = endpoint_.kind != Endpoint::Kind::kUnix;
    TuneSocket(fd.get(), tcp);
    std::string who = tcp ? PeerAddress(peer) : UnixPeer(fd.get());
    return Channel(std::move(fd), absl::StrCat(who, " on ", endpoint_.ToString()), true);
  }
}

Listener::~Listener() {
  if (fd_.valid() && endpoint_.kind == Endpoint::Kind::kUnix) ::unlink(endpoint_.path.c_str());
}

}  // namespace migration
