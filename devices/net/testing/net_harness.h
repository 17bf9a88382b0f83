// SPDX-License-Identifier: MIT
// Test helpers for virtio-net: NetHarness puts a devices::Net behind a
// virtio-mmio transport and drives it with two FakeDrivers (receive and
// transmit) over plain guest memory, the way Linux's driver does. The
// device's "tap" is either a real tap device (HostTap: a fresh network
// namespace, the tap, and a packet socket on it for the host's side) or a
// socket pair whose other end plays the host (for the fuzz target and the
// seccomp test, where no tap can be made).
#ifndef DEVICES_NET_TESTING_NET_HARNESS_H_
#define DEVICES_NET_TESTING_NET_HARNESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "devices/net/net.h"
#include "memory/guest_memory.h"
#include "virtio/mmio_transport.h"
#include "virtio/testing/fake_driver.h"
#include "virtio/testing/mmio_registers.h"

namespace devices::testing {

// The ethertype of the tests' frames (IEEE's local experimental one), so
// the host's own traffic on the tap is told apart.
inline constexpr uint16_t kTestEtherType = 0x88b5;

// Moves this process into a new network namespace (once) with IPv6 off
// for new interfaces, so the tests' taps see no router solicitations.
// False without the privilege (the caller skips).
inline bool EnterFreshNetns() {
  static const bool entered = [] {
    if (::unshare(CLONE_NEWNET) != 0) return false;
    const int fd = ::open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t unused = ::write(fd, "1", 1);
      (void)unused;
      ::close(fd);
    }
    return true;
  }();
  return entered;
}

// Sets interface `name` up (and NOARP: nothing of the host's own).
inline bool SetLinkUp(const std::string& name) {
  base::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags |= IFF_UP | IFF_NOARP;
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

// The host's side of a tap: a packet socket bound to it. What it sends
// reaches the tap's reader (the guest); it sees what the tap's reader
// writes.
class HostPort {
 public:
  // Frames of `ethertype` only.
  static std::optional<HostPort> Open(const std::string& ifname, uint16_t ethertype = kTestEtherType) {
    base::UniqueFd s(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ethertype)));
    if (!s.valid()) return std::nullopt;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFINDEX, &ifr) != 0) return std::nullopt;
    const int index = ifr.ifr_ifindex;
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ethertype);
    addr.sll_ifindex = index;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return std::nullopt;
    return HostPort(std::move(s));
  }
  bool Send(const std::vector<uint8_t>& frame) {
    return ::send(fd_.get(), frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
  }
  // The next frame of the port's ethertype within `timeout_ms`, or nullopt.
  std::optional<std::vector<uint8_t>> Receive(int timeout_ms = 2000) {
    pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    std::vector<uint8_t> buf(70000);
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

 private:
  explicit HostPort(base::UniqueFd fd) : fd_(std::move(fd)) {}
  base::UniqueFd fd_;
};

// An Ethernet frame of the tests' ethertype: `payload_bytes` of a pattern
// after the header.
inline std::vector<uint8_t> TestFrame(size_t payload_bytes, uint8_t seed, const MacAddress& dst,
                                      const MacAddress& src = {0x02, 0, 0, 0, 0, 0x99}) {
  std::vector<uint8_t> f(14 + payload_bytes);
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  f[12] = kTestEtherType >> 8;
  f[13] = kTestEtherType & 0xff;
  for (size_t i = 0; i < payload_bytes; ++i) f[14 + i] = static_cast<uint8_t>(seed + i * 13);
  return f;
}

struct NetHarness {
  // Guest RAM: 16 MiB. The receive ring at 1 MiB, the transmit ring at
  // 1.5 MiB, buffers from 4 MiB.
  static constexpr memory::Gpa kRxRing = 1 << 20;
  static constexpr memory::Gpa kTxRing = 3 << 19;
  static constexpr memory::Gpa kData = 4 << 20;
  static constexpr uint64_t kRamBytes = 16 << 20;
  static constexpr MacAddress kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

  memory::GuestMemory mem{std::move(*memory::GuestMemory::Create({{0, kRamBytes}}))};
  std::shared_ptr<Net> net;
  std::unique_ptr<virtio::MmioTransport> transport;
  std::unique_ptr<virtio::FakeDriver> rx;
  std::unique_ptr<virtio::FakeDriver> tx;
  std::shared_ptr<std::atomic<int>> irqs = std::make_shared<std::atomic<int>>(0);

  // The device on `tap`, its worker started (running `on_worker_start`
  // first); nullptr when it cannot be created.
  static std::unique_ptr<NetHarness> Make(Tap tap, std::function<void()> on_worker_start = nullptr,
                                          NetOptions options = {.mac = kMac, .mac_given = false}) {
    std::unique_ptr<NetHarness> h = MakeWithoutWorker(std::move(tap), options);
    if (h != nullptr) h->net->StartWorker(std::move(on_worker_start));
    return h;
  }
  // The same with no worker thread: SyncTx and Serve do the worker's work
  // on the calling thread (the fuzz target, where a thread per device and
  // a hand-off per notification would cost more than the frames).
  static std::unique_ptr<NetHarness> MakeWithoutWorker(Tap tap,
                                                       NetOptions options = {.mac = kMac, .mac_given = false}) {
    auto h = std::make_unique<NetHarness>();
    absl::StatusOr<std::shared_ptr<Net>> net = Net::CreateOnTap(std::move(tap), options);
    if (!net.ok()) return nullptr;
    h->net = *net;
    h->transport = std::make_unique<virtio::MmioTransport>(h->mem, h->net, [irqs = h->irqs] { ++*irqs; });
    return h;
  }
  // On a socket pair: `host` gets the other end.
  static std::unique_ptr<NetHarness> MakeOnSocketPair(base::UniqueFd& host,
                                                      std::function<void()> on_worker_start = nullptr,
                                                      NetOptions options = {.mac = kMac, .mac_given = false}) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return nullptr;
    host.Reset(fds[1]);
    return Make(Tap::ForTesting(base::UniqueFd(fds[0]), "socketpair"), std::move(on_worker_start), options);
  }
  static std::unique_ptr<NetHarness> MakeOnSocketPairWithoutWorker(base::UniqueFd& host) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return nullptr;
    host.Reset(fds[1]);
    return MakeWithoutWorker(Tap::ForTesting(base::UniqueFd(fds[0]), "socketpair"));
  }

  virtio::MmioRegisters Registers() { return virtio::MmioRegisters(*transport); }
  void WriteReg(uint64_t offset, uint32_t v) { Registers().Write(offset, v); }
  uint32_t ReadReg(uint64_t offset) { return Registers().Read(offset); }
  uint64_t OfferedFeatures() { return Registers().OfferedFeatures(); }

  // The driver's probe: accepts the offered features in `accept`, sets up
  // both queues, DRIVER_OK. Returns the device status register.
  uint32_t Negotiate(uint64_t accept = ~0ull) {
    virtio::MmioRegisters regs = Registers();
    const uint32_t ok = regs.AcceptFeatures(regs.OfferedFeatures() & accept);
    rx = std::make_unique<virtio::FakeDriver>(mem, kRxRing, Net::kQueueSize);
    tx = std::make_unique<virtio::FakeDriver>(mem, kTxRing, Net::kQueueSize);
    regs.SetUpQueue(Net::kRxQueue, *rx);
    regs.SetUpQueue(Net::kTxQueue, *tx);
    return regs.DriverOk(ok);
  }

  void Notify(uint16_t queue) { WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, queue); }
  // Waits until every frame offered for sending is sent: Drain, then let
  // the device run again.
  void SyncTx() {
    Serve();
    net->Drain();
    net->Resume();
  }
  // Without a worker: what it would do now (nothing once it is started).
  void Serve() { net->ServeOnThisThread(); }
  // Offers `header` + `frame` for sending in the buffers `split` gives
  // (lengths in order; the last takes the rest), notifies and waits.
  void Transmit(const virtio_net_hdr_v1& header, const std::vector<uint8_t>& frame, memory::Gpa at = kData,
                std::vector<uint32_t> split = {}) {
    std::vector<uint8_t> bytes(sizeof(header) + frame.size());
    std::memcpy(bytes.data(), &header, sizeof(header));
    std::memcpy(bytes.data() + sizeof(header), frame.data(), frame.size());
    (void)mem.WriteBytes(at, bytes);
    std::vector<virtio::FakeDriver::Buffer> chain;
    uint64_t off = 0;
    for (uint32_t len : split) {
      if (off + len >= bytes.size()) break;
      chain.push_back({at + off, len, false});
      off += len;
    }
    chain.push_back({at + off, static_cast<uint32_t>(bytes.size() - off), false});
    tx->AddChain(chain);
    Notify(Net::kTxQueue);
    SyncTx();
  }
  // Waits up to `timeout_ms` for the receive ring's used index to reach
  // `idx`.
  bool WaitRxUsed(uint16_t idx, int timeout_ms = 2000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (rx->UsedIdx() != idx) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  std::vector<uint8_t> Guest(memory::Gpa gpa, size_t n) {
    std::vector<uint8_t> v(n);
    (void)mem.ReadBytes(gpa, v);
    return v;
  }
};

}  // namespace devices::testing

#endif  // DEVICES_NET_TESTING_NET_HARNESS_H_
