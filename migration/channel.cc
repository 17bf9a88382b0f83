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
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

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
  if (host.find(':') != std::string::npos) return absl::StrCat("tcp:[", host, "]:", port);
  return absl::StrCat("tcp:", host, ":", port);
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text) {
  Endpoint e;
  if (absl::ConsumePrefix(&text, "unix:")) {
    e.kind = Endpoint::Kind::kUnix;
    e.path = std::string(text);
    if (e.path.empty()) return absl::InvalidArgumentError("unix: endpoint needs a path (unix:PATH)");
    return e;
  }
  if (!absl::ConsumePrefix(&text, "tcp:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", std::string(text), "' must be tcp:HOST:PORT or unix:PATH"));
  }
  e.kind = Endpoint::Kind::kTcp;
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("tcp endpoint 'tcp:", std::string(text), "' needs a port"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcp endpoint port '", std::string(text.substr(colon + 1)), "' must be 1..65535"));
  }
  e.host = std::string(host);
  e.port = static_cast<uint16_t>(port);
  return e;
}

absl::StatusOr<Channel> Channel::Connect(const Endpoint& endpoint) {
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    absl::StatusOr<sockaddr_un> addr = UnixAddress(endpoint.path);
    if (!addr.ok()) return addr.status();
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
    TuneSocket(fd.get(), false);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot connect to ", endpoint.ToString()));
    }
    return Channel(std::move(fd), endpoint.ToString(), true);
  }
  absl::StatusOr<base::UniqueFd> fd =
      FirstWorkingAddress(endpoint, false, "cannot connect to", [](int fd, const addrinfo* ai) {
        TuneSocket(fd, true);
        return ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
      });
  if (!fd.ok()) return fd.status();
  return Channel(std::move(*fd), endpoint.ToString(), true);
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

absl::Status Channel::WriteAll(std::span<const iovec> iov_in) {
  std::vector<iovec> iov(iov_in.begin(), iov_in.end());
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd_.get(), iov.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
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

absl::Status Channel::Write(const void* data, size_t size) {
  iovec iov{const_cast<void*>(data), size};
  return WriteAll({&iov, 1});
}

absl::Status Channel::ReadExact(void* data, size_t size) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd_.get(), p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrFormat("reading from %s after %u bytes", name_, bytes_read_));
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrFormat("the stream from %s ended early (truncated) after %u bytes", name_, bytes_read_));
    }
    bytes_read_ += static_cast<uint64_t>(n);
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Channel::WaitReadable(absl::Duration timeout) {
  pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
  int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout), 1 << 30));
  while (true) {
    int n = ::poll(&pfd, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll");
    return n > 0;
  }
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
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
    ::unlink(endpoint.path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0 || ::listen(fd.get(), 1) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot listen on ", endpoint.ToString()));
    }
    return Listener(std::move(fd), endpoint);
  }
  absl::StatusOr<base::UniqueFd> fd =
      FirstWorkingAddress(endpoint, true, "cannot listen on", [](int fd, const addrinfo* ai) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        TuneSocket(fd, true);  // inherited by the accepted socket
        return ::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1) == 0;
      });
  if (!fd.ok()) return fd.status();
  return Listener(std::move(*fd), endpoint);
}

absl::StatusOr<Channel> Listener::Accept(absl::Duration timeout) {
  pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
  int ms = timeout == absl::InfiniteDuration()
               ? -1
               : static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout), 1 << 30));
  int n;
  do {
    n = ::poll(&pfd, 1, ms);
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    return absl::DeadlineExceededError(absl::StrCat("no migration source connected to ", endpoint_.ToString(),
                                                    " within ", absl::FormatDuration(timeout)));
  }
  int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("accept on ", endpoint_.ToString()));
  base::UniqueFd owned(fd);
  TuneSocket(fd, endpoint_.kind == Endpoint::Kind::kTcp);
  return Channel(std::move(owned), absl::StrCat("the source on ", endpoint_.ToString()), true);
}

Listener::~Listener() {
  if (fd_.valid() && endpoint_.kind == Endpoint::Kind::kUnix) ::unlink(endpoint_.path.c_str());
}

}  // namespace migration
