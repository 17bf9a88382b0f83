// SPDX-License-Identifier: MIT
#include "tests/link_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/netns_pair.h"

namespace tests {
namespace {

// Above the largest frame a veth hands up after GRO (64 KiB unless BIG TCP
// is configured); a larger one is counted as truncated.
constexpr size_t kFrameBuffer = 256 * 1024;
// Room for a whole migration burst while the reader waits for a core.
constexpr int kSocketBuffer = 256 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<LinkCapture>> LinkCapture::Start(const std::string& ns, const std::string& interface,
                                                                 std::string marker) {
  int fd = -1;
  absl::Status made;
  absl::Status entered = RunInNetns(ns, [&] {
    fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) {
      made = absl::ErrnoToStatus(errno, "socket(AF_PACKET)");
      return;
    }
    // Interface names are per namespace: look it up in there.
    const unsigned index = ::if_nametoindex(interface.c_str());
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = static_cast<int>(index);
    if (index == 0) {
      made = absl::NotFoundError(absl::StrCat("no interface ", interface, " in ", ns));
    } else if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kSocketBuffer, sizeof(kSocketBuffer)) != 0) {
      made = absl::ErrnoToStatus(errno, "SO_RCVBUFFORCE");
    } else if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) {
      made = absl::ErrnoToStatus(errno, "bind to " + interface);
    }
  });
  if (!entered.ok() || !made.ok()) {
    if (fd >= 0) ::close(fd);
    return entered.ok() ? made : entered;
  }
  return std::unique_ptr<LinkCapture>(new LinkCapture(fd, std::move(marker)));
}

LinkCapture::LinkCapture(int fd, std::string marker) : fd_(fd), marker_(std::move(marker)) {
  reader_ = std::thread([this] { Read(); });
}

LinkCapture::~LinkCapture() {
  if (!stopped_) (void)Stop(absl::ZeroDuration());
  ::close(fd_);
}

void LinkCapture::ReadOne(uint8_t* buffer, size_t size) {
  ++totals_.frames;
  totals_.bytes += size;
  if (size > kFrameBuffer) {
    ++totals_.truncated_frames;
    size = kFrameBuffer;
  }
  if (!marker_.empty() && ::memmem(buffer, size, marker_.data(), marker_.size()) != nullptr) {
    ++totals_.marker_frames;
  }
}

void LinkCapture::Read() {
  std::vector<uint8_t> buffer(kFrameBuffer);
  for (;;) {
    // MSG_TRUNC: the frame's real length even when the buffer is shorter.
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      ReadOne(buffer.data(), static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Drained: stop if asked, else wait for the next frame.
    if (done_.load()) return;
    pollfd in{.fd = fd_, .events = POLLIN, .revents = 0};
    (void)::poll(&in, 1, 50);
  }
}

LinkCapture::Totals LinkCapture::Stop(absl::Duration settle) {
  if (stopped_) return totals_;
  absl::SleepFor(settle);
  done_.store(true);
  reader_.join();
  stopped_ = true;
  tpacket_stats stats{};
  socklen_t size = sizeof(stats);
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &size) == 0) totals_.dropped_frames = stats.tp_drops;
  return totals_;
}

}  // namespace tests
