// SPDX-License-Identifier: MIT
// Helpers for tests that move migration streams over loopback sockets:
// a fresh port per call (so parallel test processes and consecutive tests
// do not collide), and a relay that copies the bytes between a source and
// a destination and keeps what went from the source to the destination,
// as a capture on the link would.
#ifndef MIGRATION_TESTING_LOOPBACK_H_
#define MIGRATION_TESTING_LOOPBACK_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

namespace migration {

inline uint16_t NextLoopbackPort() {
  static std::atomic<int> next{0};
  return static_cast<uint16_t>(30000 + (::getpid() * 37 + next++) % 30000);
}

// Listens on 127.0.0.1:port() and forwards one connection to
// 127.0.0.1:`to_port`, both ways, until either side closes.
class Relay {
 public:
  explicit Relay(uint16_t to_port) : port_(NextLoopbackPort()) {
    listen_fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(port_);
    ok_ = ::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listen_fd_.get(), 1) == 0;
    thread_ = std::thread([this, to_port] { Forward(to_port); });
  }
  ~Relay() { Stop(); }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }
  // Once both ends have closed: what the source sent.
  std::vector<uint8_t> TakeUpstream() {
    Stop();
    return std::move(upstream_);
  }

 private:
  void Stop() {
    ::shutdown(listen_fd_.get(), SHUT_RDWR);  // ends a wait for a connection that never came
    if (thread_.joinable()) thread_.join();
  }
  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }
  void Forward(uint16_t to_port) {
    base::UniqueFd in(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!in.valid()) return;
    base::UniqueFd out(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr = Loopback(to_port);
    if (::connect(out.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    std::vector<uint8_t> buffer(1 << 16);
    pollfd fds[2] = {{in.get(), POLLIN, 0}, {out.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
        if (n <= 0) return;  // either side closed: both go
        if (i == 0) upstream_.insert(upstream_.end(), buffer.begin(), buffer.begin() + n);
        for (ssize_t done = 0; done < n;) {
          const ssize_t w = ::write(fds[1 - i].fd, buffer.data() + done, static_cast<size_t>(n - done));
          if (w <= 0) return;
          done += w;
        }
      }
    }
  }

  uint16_t port_;
  base::UniqueFd listen_fd_;
  bool ok_ = false;
  std::vector<uint8_t> upstream_;
  std::thread thread_;
};

}  // namespace migration

#endif  // MIGRATION_TESTING_LOOPBACK_H_
