// SPDX-License-Identifier: MIT
// virtio-net with the real Linux driver: the default guest gets
// `--net tap=...` on a tap in a network namespace of the test's own (the
// host's side: 10.0.77.1/24 on the tap), configures eth0 with busybox's
// ip, and the two ping each other; then files cross over TCP both ways
// (busybox httpd on one side, wget on the other), through the checksum
// and segmentation offloads the driver negotiates (the tap's counters show
// frames larger than the MTU each way). A second test migrates
// the configured guest to a VMM in another namespace (another "host" with
// the same addressing): the destination announces the guest's MAC on its
// tap, and the guest answers pings there without being told anything.
// A third moves a guest that also has two disks on shared storage (the
// same image paths at both ends) between two hosts on one bridged network
// while a ping from the network runs and the guest writes numbered blocks:
// the ping resumes, and every block and a file written before the move are
// in the images afterwards (the raw one opened with O_DIRECT on the host
// unless the test's folder is on tmpfs).
// Needs root (the namespaces and the taps), CONFIG_VIRTIO_NET and
// CONFIG_INET in the guest kernel, and busybox on the host (the guest
// image's build installs it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/ip_icmp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
constexpr char kTap[] = "vmmg0";
constexpr char kHostIp[] = "10.0.77.1";
constexpr char kGuestIp[] = "10.0.77.2";
constexpr char kMac[] = "52:54:00:12:34:56";
const absl::Duration kBootTimeout = absl::Seconds(600);
const absl::Duration kCommandTimeout = absl::Seconds(180);


// A network namespace with the host's end of the guest's NIC: the tap,
// addressed and up, before the VMM opens it.
class HostNetwork {
 public:
  explicit HostNetwork(const std::string& name = "") : ns_(absl::StrCat("vmmnet", name, ::getpid())) {
    ok_ = HostCommand(absl::StrCat("ip netns add ", ns_, " && ip -n ", ns_, " link set lo up && ip -n ", ns_,
                                   " tuntap add ", kTap, " mode tap vnet_hdr && ip -n ", ns_, " addr add ", kHostIp,
                                   "/24 dev ", kTap, " && ip -n ", ns_, " link set ", kTap, " up"))
              .has_value();
  }
  ~HostNetwork() {
    if (!server_pid_.empty()) (void)HostCommand("kill " + server_pid_);
    (void)HostCommand(absl::StrCat("ip netns del ", ns_, " 2>/dev/null"));
  }
  bool ok() const { return ok_; }
  const std::string& ns() const { return ns_; }
  std::optional<std::string> Run(const std::string& command) {
    return HostCommand(absl::StrCat("ip netns exec ", ns_, " sh -c '", command, "'"));
  }
  // The tap's counters: what the guest sent is its rx, what it got its tx.
  struct Counters {
    uint64_t rx_bytes = 0, rx_frames = 0, tx_bytes = 0, tx_frames = 0;
  };
  std::optional<Counters> TapCounters() {
    const std::string stats = absl::StrCat("/sys/class/net/", kTap, "/statistics/");
    std::optional<std::string> text =
        Run(absl::StrCat("cat ", stats, "rx_bytes ", stats, "rx_packets ", stats, "tx_bytes ", stats, "tx_packets"));
    Counters c;
    if (!text.has_value() ||
        std::sscanf(text->c_str(), "%lu %lu %lu %lu", &c.rx_bytes, &c.rx_frames, &c.tx_bytes, &c.tx_frames) != 4) {
      return std::nullopt;
    }
    return c;
  }
  // busybox httpd serving `dir` on the host's address, in the background.
  bool Serve(const std::string& dir) {
    std::optional<std::string> pid = HostCommand(absl::StrCat("ip netns exec ", ns_, " busybox httpd -f -p ", kHostIp,
                                                              ":8000 -h ", dir, " >/dev/null 2>&1 & echo $!"));
    if (!pid.has_value()) return false;
    server_pid_ = pid->substr(0, pid->find('\n'));
    return !server_pid_.empty();
  }

 private:
  std::string ns_;
  bool ok_ = false;
  std::string server_pid_;
};

TEST(NetGuestTest, GuestAndHostPingEachOtherAndFilesCrossBothWays) {
  REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace and a tap";
  if (!HostCommand("command -v busybox && command -v ip").has_value()) GTEST_SKIP() << "no busybox or ip on the host";
  HostNetwork host;
  ASSERT_TRUE(host.ok()) << "could not make the namespace and tap";
  const std::string dir = absl::StrCat(::testing::TempDir(), "/net-guest-", ::getpid());
  ASSERT_TRUE(HostCommand(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, " && head -c 393216 /dev/urandom > ",
                                       dir, "/from-host"))
                  .has_value());
  std::optional<std::string> host_sum = HostCommand(absl::StrCat("md5sum < ", dir, "/from-host"));
  ASSERT_TRUE(host_sum.has_value());
  const std::string from_host_md5 = host_sum->substr(0, 32);
  ASSERT_TRUE(host.Serve(dir));

  GuestProcess vm({"ip", "netns", "exec", host.ns()},
                  {"run", "--memory", "512M", "--net", absl::StrCat("tap=", kTap, ",mac=", kMac)});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();

  // The driver found the device and took the MAC from its config space.
  std::optional<std::string> mac = vm.RunCommand("cat /sys/class/net/eth0/address", kCommandTimeout);
  ASSERT_TRUE(mac.has_value()) << vm.output();
  EXPECT_NE(mac->find(kMac), std::string::npos) << *mac;

  // Guest to host.
  std::optional<std::string> ping = vm.RunCommand(
      absl::StrCat("ip addr add ", kGuestIp, "/24 dev eth0 && ip link set eth0 up && ping -c 3 -W 20 ", kHostIp),
      kCommandTimeout);
  ASSERT_TRUE(ping.has_value()) << vm.output();
  EXPECT_NE(ping->find("3 packets received"), std::string::npos) << *ping;

  // Host to guest.
  std::optional<std::string> host_ping = host.Run(absl::StrCat("busybox ping -c 3 -W 20 ", kGuestIp));
  ASSERT_TRUE(host_ping.has_value()) << "host ping failed\n" << vm.output() << vm.stderr_text();
  EXPECT_NE(host_ping->find("3 packets received"), std::string::npos) << *host_ping;

  // Host to guest over TCP: a 384 KiB file fetched from the host's httpd.
  // With the segmentation offloads the host's TCP hands the tap frames
  // larger than the link's MTU, which the device gives the guest whole:
  // fewer frames than the file needs at 1514 bytes each.
  constexpr uint64_t kLargestPlainFrame = 1514;
  const std::optional<HostNetwork::Counters> before_download = host.TapCounters();
  ASSERT_TRUE(before_download.has_value());
  std::optional<std::string> fetched =
      vm.RunCommand(absl::StrCat("wget -q -O - http://", kHostIp, ":8000/from-host | md5sum"), kCommandTimeout);
  ASSERT_TRUE(fetched.has_value()) << vm.output();
  EXPECT_NE(fetched->find(from_host_md5), std::string::npos) << *fetched << "\nexpected " << from_host_md5;

  const std::optional<HostNetwork::Counters> after_download = host.TapCounters();
  ASSERT_TRUE(after_download.has_value());
  const uint64_t down_bytes = after_download->tx_bytes - before_download->tx_bytes;
  const uint64_t down_frames = after_download->tx_frames - before_download->tx_frames;
  std::printf("host to guest: %lu bytes in %lu frames\n", down_bytes, down_frames);
  EXPECT_GT(down_bytes, 393216u);
  EXPECT_LT(down_frames * kLargestPlainFrame, down_bytes) << "no segmentation offload to the guest";

  // Guest to host over TCP: a file the guest makes, served by its httpd;
  // with the offloads the guest's TCP sends frames over the MTU too.
  std::optional<std::string> guest_sum = vm.RunCommand(
      absl::StrCat("mkdir -p /srv && head -c 393216 /dev/urandom > /srv/from-guest && md5sum < /srv/from-guest && "
                   "httpd -p ",
                   kGuestIp, ":8000 -h /srv"),
      kCommandTimeout);
  ASSERT_TRUE(guest_sum.has_value()) << vm.output();
  const size_t at = guest_sum->find_first_of("0123456789abcdef");
  ASSERT_NE(at, std::string::npos) << *guest_sum;
  const std::string from_guest_md5 = guest_sum->substr(at, 32);
  const std::optional<HostNetwork::Counters> before_upload = host.TapCounters();
  ASSERT_TRUE(before_upload.has_value());
  std::optional<std::string> got =
      host.Run(absl::StrCat("timeout 300 busybox wget -q -O - http://", kGuestIp, ":8000/from-guest | md5sum"));
  ASSERT_TRUE(got.has_value()) << vm.output();
  EXPECT_EQ(got->substr(0, 32), from_guest_md5);
  const std::optional<HostNetwork::Counters> after_upload = host.TapCounters();
  ASSERT_TRUE(after_upload.has_value());
  const uint64_t up_bytes = after_upload->rx_bytes - before_upload->rx_bytes;
  const uint64_t up_frames = after_upload->rx_frames - before_upload->rx_frames;
  std::printf("guest to host: %lu bytes in %lu frames\n", up_bytes, up_frames);
  EXPECT_GT(up_bytes, 393216u);
  EXPECT_LT(up_frames * kLargestPlainFrame, up_bytes) << "no segmentation offload from the guest";

  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(120)), 0) << vm.output() << vm.stderr_text();
  (void)HostCommand(absl::StrCat("rm -rf ", dir));
}

// A socket made by `make` on a thread that enters the named network
// namespace (a thread's namespace is its own), then usable from any
// thread: it stays in that namespace. -1 when it cannot be made.
int SocketIn(const std::string& ns, const std::function<int()>& make) {
  int result = -1;
  std::thread inside([&] {
    const int ns_fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) return;
    const bool entered = ::setns(ns_fd, CLONE_NEWNET) == 0;
    ::close(ns_fd);
    if (entered) result = make();
  });
  inside.join();
  return result;
}

// A packet socket for RARP frames on `ifname` inside the namespace `ns`.
int RarpSocketIn(const std::string& ns, const std::string& ifname) {
  return SocketIn(ns, [&] {
    const int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_RARP));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_RARP);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    if (s < 0 || addr.sll_ifindex == 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (s >= 0) ::close(s);
      return -1;
    }
    return s;
  });
}

// A migration of a guest with a NIC between two namespaces: the source
// boots in one with `shape`, the NIC (kMac) and an API socket in `dir`, and
// gets eth0 configured and checked with a ping to the host's side; Move()
// starts the destination in the other (the same shape, the NIC without a
// MAC: it takes the source's) and migrates to it over a unix socket.
class NetMigration {
 public:
  NetMigration(std::string dir, std::vector<std::string> shape) : dir_(std::move(dir)), shape_(std::move(shape)) {}

  // Empty once the source runs with eth0 up; otherwise what went wrong.
  std::string BootSource(const std::string& ns) {
    std::vector<std::string> args = shape_;
    args.insert(args.end(), {"--net", absl::StrCat("tap=", kTap, ",mac=", kMac), "--api-socket", dir_ + "/a.sock"});
    source_ = std::make_unique<GuestProcess>(std::vector<std::string>{"ip", "netns", "exec", ns}, args);
    if (!source_->WaitFor(kReadyMarker, kBootTimeout)) return "no boot\n" + source_->output() + source_->stderr_text();
    std::optional<std::string> ping = source_->RunCommand(
        absl::StrCat("ip addr add ", kGuestIp, "/24 dev eth0 && ip link set eth0 up && ping -c 2 -W 20 ", kHostIp),
        kCommandTimeout);
    if (!ping.has_value() || ping->find("2 packets received") == std::string::npos) {
      return "no ping from the source\n" + ping.value_or(source_->output());
    }
    return "";
  }

  // Empty once the guest runs at the destination and the source exited.
  std::string Move(const std::string& ns) {
    std::vector<std::string> args = shape_;
    args.insert(args.end(), {"--net", absl::StrCat("tap=", kTap), "--incoming", "unix:" + dir_ + "/mig.sock"});
    dest_ = std::make_unique<GuestProcess>(std::vector<std::string>{"ip", "netns", "exec", ns}, args);
    for (int i = 0; i < 300 && !std::filesystem::exists(dir_ + "/mig.sock"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    GuestProcess migrate({"ctl", "--api-socket", dir_ + "/a.sock", "migrate", "unix:" + dir_ + "/mig.sock"});
    if (migrate.WaitExit(absl::Seconds(900)) != 0) {
      return "migration failed\n" + migrate.stderr_text() + dest_->stderr_text();
    }
    if (source_->WaitExit(absl::Seconds(60)) != 0) return "the source did not exit cleanly\n" + source_->stderr_text();
    return "";
  }

  GuestProcess& source() { return *source_; }
  GuestProcess& dest() { return *dest_; }

 private:
  std::string dir_;
  std::vector<std::string> shape_;
  std::unique_ptr<GuestProcess> source_, dest_;
};

TEST(NetGuestTest, MigratedGuestIsAnnouncedOnItsNewTapAndAnswersThere) {
  REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces and taps";
  if (!HostCommand("command -v busybox && command -v ip").has_value()) GTEST_SKIP() << "no busybox or ip on the host";
  HostNetwork a("a"), b("b");
  ASSERT_TRUE(a.ok() && b.ok()) << "could not make the namespaces and taps";
  const std::string dir = absl::StrCat(::testing::TempDir(), "/net-migrate-", ::getpid());
  std::filesystem::create_directories(dir);
  NetMigration migration(dir, {"run", "--memory", "512M"});
  ASSERT_EQ(migration.BootSource(a.ns()), "");

  // The destination on "host" B takes the source's MAC (no mac= here).
  const int rarp = RarpSocketIn(b.ns(), kTap);
  ASSERT_GE(rarp, 0) << "no packet socket on B's tap";
  ASSERT_EQ(migration.Move(b.ns()), "");
  GuestProcess& dest = migration.dest();

  // The announce: RARP from the guest's MAC on B's tap.
  pollfd p{.fd = rarp, .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&p, 1, 30000), 1) << "no RARP on B's tap\n" << dest.stderr_text();
  std::vector<uint8_t> frame(128);
  const ssize_t n = ::recv(rarp, frame.data(), frame.size(), 0);
  ::close(rarp);
  ASSERT_GE(n, 14);
  const std::vector<uint8_t> mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 6, frame.begin() + 12), mac);

  // The guest, configured on A, answers on B and reaches B's side.
  std::optional<std::string> host_ping = b.Run(absl::StrCat("busybox ping -c 3 -W 20 ", kGuestIp));
  ASSERT_TRUE(host_ping.has_value()) << "ping from B failed\n" << dest.output() << dest.stderr_text();
  EXPECT_NE(host_ping->find("3 packets received"), std::string::npos) << *host_ping;
  std::optional<std::string> back = dest.RunCommand(absl::StrCat("ping -c 2 -W 20 ", kHostIp), kCommandTimeout);
  ASSERT_TRUE(back.has_value()) << dest.output();
  EXPECT_NE(back->find("2 packets received"), std::string::npos) << *back;

  dest.Send("poweroff -f\n");
  EXPECT_EQ(dest.WaitExit(absl::Seconds(120)), 0) << dest.output() << dest.stderr_text();
  std::filesystem::remove_all(dir);
}

// Three network namespaces make two hosts and the network between them:
// P holds a bridge with the host-side address (the "switch" and a client
// on it), and A and B each hold a tap on a bridge of their own with a veth
// up to P's bridge. A guest on A's tap is reached from P through A; once
// it moved to B's tap, only the announce (RARP) on B teaches P's bridge
// the new port, so a ping from P that resumes proves the announce worked.
class BridgedHosts {
 public:
  BridgedHosts()
      : p_(absl::StrCat("vmmnetp", ::getpid())),
        a_(absl::StrCat("vmmneta", ::getpid())),
        b_(absl::StrCat("vmmnetb", ::getpid())) {
    std::string setup = absl::StrCat("set -e; ip netns add ", p_, "; ip -n ", p_, " link set lo up; ip -n ", p_,
                                     " link add br0 type bridge forward_delay 0; ip -n ", p_, " addr add ", kHostIp,
                                     "/24 dev br0; ip -n ", p_, " link set br0 up");
    for (const std::string* host : {&a_, &b_}) {
      const std::string port = host == &a_ ? "upa" : "upb";
      absl::StrAppend(&setup, "; ip netns add ", *host, "; ip -n ", *host, " link set lo up; ip -n ", *host,
                      " link add br0 type bridge forward_delay 0; ip -n ", *host, " link set br0 up; ip -n ", *host,
                      " tuntap add ", kTap, " mode tap vnet_hdr; ip -n ", *host, " link set ", kTap,
                      " master br0 up; ip -n ", p_, " link add ", port, " type veth peer name uplink netns ", *host,
                      "; ip -n ", p_, " link set ", port, " master br0 up; ip -n ", *host,
                      " link set uplink master br0 up");
    }
    ok_ = HostCommand(setup).has_value();
  }
  ~BridgedHosts() {
    for (const std::string& ns : {p_, a_, b_}) (void)HostCommand(absl::StrCat("ip netns del ", ns, " 2>/dev/null"));
  }
  bool ok() const { return ok_; }
  const std::string& p() const { return p_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

 private:
  std::string p_, a_, b_;
  bool ok_ = false;
};

// The Internet checksum of `bytes` (RFC 1071).
uint16_t InternetChecksum(std::span<const uint8_t> bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (bytes.size() % 2 != 0) sum += static_cast<uint32_t>(bytes.back() << 8);
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// A ping that runs on its own thread from start to Stop(): one ICMP echo
// request every `interval` through a raw socket made in a namespace (see
// SocketIn), recording when each sequence number was sent and whether a
// reply came back, so a test can see the gap a migration leaves.
class BackgroundPing {
 public:
  struct Probe {
    absl::Time sent;
    bool answered = false;
  };

  BackgroundPing(int raw_icmp_socket, const std::string& target, absl::Duration interval)
      : fd_(raw_icmp_socket), interval_(interval) {
    target_.sin_family = AF_INET;
    ::inet_pton(AF_INET, target.c_str(), &target_.sin_addr);
    thread_ = std::thread([this] { Loop(); });
  }
  ~BackgroundPing() { Stop(); }

  // Ends the thread (after one last interval for late replies) and
  // returns every probe in sequence order.
  std::vector<Probe> Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      ::close(fd_);
    }
    return probes_;
  }

 private:
  static constexpr uint16_t kId = 0x766d;  // "vm": tells our replies from others'

  void Loop() {
    absl::Time next = absl::Now();
    bool last_round = false;
    while (true) {
      if (absl::Now() >= next) {
        if (last_round) return;
        if (stop_) last_round = true;
        else Send();
        next += interval_;
      }
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      const int wait_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(next - absl::Now())));
      if (::poll(&p, 1, wait_ms) == 1) Receive();
    }
  }

  void Send() {
    const uint16_t seq = static_cast<uint16_t>(probes_.size());
    uint8_t packet[16] = {ICMP_ECHO, 0, 0, 0, kId >> 8, kId & 0xff, static_cast<uint8_t>(seq >> 8),
                          static_cast<uint8_t>(seq & 0xff)};
    const uint16_t sum = InternetChecksum(packet);
    packet[2] = static_cast<uint8_t>(sum >> 8);
    packet[3] = static_cast<uint8_t>(sum & 0xff);
    probes_.push_back({.sent = absl::Now()});
    (void)::sendto(fd_, packet, sizeof(packet), 0, reinterpret_cast<const sockaddr*>(&target_), sizeof(target_));
  }

  // A raw ICMP socket receives the IP header too.
  void Receive() {
    uint8_t buf[256];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 20) return;
    const size_t ip_header = static_cast<size_t>(buf[0] & 0x0f) * 4;
    if (static_cast<size_t>(n) < ip_header + 8) return;
    const uint8_t* icmp = buf + ip_header;
    const uint16_t id = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
    const uint16_t seq = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
    if (icmp[0] != ICMP_ECHOREPLY || id != kId || seq >= probes_.size()) return;
    probes_[seq].answered = true;
  }

  int fd_;
  absl::Duration interval_;
  sockaddr_in target_{};
  std::atomic<bool> stop_{false};
  std::vector<Probe> probes_;  // owned by the thread until Stop() joins it
  std::thread thread_;
};

// The guest's numbered-block writer on /dev/vdb: block i (4 KiB) holds
// "seq-i" right-aligned in spaces and a newline, and block 0 then says
// "count-i", each synced before the next, until /tmp/stop appears.
std::string PaddedBlock(const std::string& word) {
  return std::string(4095 - word.size(), ' ') + word + "\n";
}
constexpr char kBlockWriterLoop[] =
    "(i=1; while [ ! -e /tmp/stop ]; do printf \"%4095s\\n\" seq-$i | dd of=/dev/vdb bs=4096 seek=$i conv=fsync; "
    "printf \"%4095s\\n\" count-$i | dd of=/dev/vdb bs=4096 conv=fsync; i=$((i+1)); done; touch /tmp/stopped) "
    ">/dev/null 2>&1 & echo started";
constexpr char kReadBlockCount[] = "dd if=/dev/vdb bs=4096 count=1 2>/dev/null | tr -d \" \"";

// The number in "count-N" within `text`, or -1.
int BlockCount(const std::optional<std::string>& text) {
  if (!text.has_value()) return -1;
  const size_t at = text->rfind("count-");
  return at == std::string::npos ? -1 : std::atoi(text->c_str() + at + 6);
}

TEST(NetGuestTest, GuestWithDiskMigratesUnderPingAndDiskWritesWithoutLosingEither) {
  REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces, taps and bridges";
  if (!HostCommand("command -v ip && command -v mkfs.ext4").has_value()) GTEST_SKIP() << "no ip or mkfs.ext4";
  BridgedHosts hosts;
  ASSERT_TRUE(hosts.ok()) << "could not make the namespaces, bridges and taps";
  // Shared storage: both VMMs open the same two image paths.
  const std::string dir = absl::StrCat(::testing::TempDir(), "/net-disk-migrate-", ::getpid());
  const std::string fs_image = dir + "/fs.img", seq_image = dir + "/seq.img";
  constexpr uint64_t kSeqImageBytes = 16 << 20;
  ASSERT_TRUE(HostCommand(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, "/tree && mkfs.ext4 -q -F -d ", dir,
                                       "/tree ", fs_image, " 32M && truncate -s ", kSeqImageBytes, " ", seq_image))
                  .has_value());
  // The raw disk with O_DIRECT on the host where the file system has it
  // (not tmpfs): the guest's synced blocks then go past the host's cache.
  struct statfs fs;
  const bool direct = ::statfs(dir.c_str(), &fs) == 0 && fs.f_type != TMPFS_MAGIC;
  std::printf("the raw disk is opened %s\n", direct ? "with O_DIRECT (,direct)" : "through the page cache (tmpfs)");
  NetMigration migration(
      dir, {"run", "--memory", "512M", "--disk", fs_image, "--disk", seq_image + (direct ? ",direct" : "")});
  ASSERT_EQ(migration.BootSource(hosts.a()), "");
  GuestProcess& source = migration.source();

  // Before the move: a file on ext4, synced, and its checksum.
  std::optional<std::string> written = source.RunCommand(
      "mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && head -c 262144 /dev/urandom > /mnt/before && sync && "
      "md5sum /mnt/before",
      kCommandTimeout);
  ASSERT_TRUE(written.has_value()) << source.output();
  const size_t sum_at = written->find("  /mnt/before");
  ASSERT_NE(sum_at, std::string::npos) << *written;
  ASSERT_GE(sum_at, 32u);
  const std::string before_md5 = written->substr(sum_at - 32, 32);

  // Disk writes that run across the move, and a ping from P every 200 ms.
  ASSERT_TRUE(source.RunCommand(kBlockWriterLoop, kCommandTimeout).has_value()) << source.output();
  int count_before = -1;
  for (int i = 0; i < 60 && count_before < 3; ++i) {
    count_before = BlockCount(source.RunCommand(kReadBlockCount, kCommandTimeout));
  }
  ASSERT_GE(count_before, 3) << "the guest's block writer did not get going\n" << source.output();
  const int icmp = SocketIn(hosts.p(), [] { return ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP); });
  ASSERT_GE(icmp, 0) << "no ICMP socket in P";
  BackgroundPing pinger(icmp, kGuestIp, absl::Milliseconds(200));
  absl::SleepFor(absl::Seconds(3));

  const absl::Time migration_start = absl::Now();
  ASSERT_EQ(migration.Move(hosts.b()), "");
  const absl::Time switched = absl::Now();
  GuestProcess& dest = migration.dest();

  // The writer goes on at the destination: its count passes the one seen
  // there first.
  const int count_at_switch = BlockCount(dest.RunCommand(kReadBlockCount, kCommandTimeout));
  ASSERT_GE(count_at_switch, count_before) << dest.output() << dest.stderr_text();
  int count_after = count_at_switch;
  for (int i = 0; i < 60 && count_after < count_at_switch + 3; ++i) {
    count_after = BlockCount(dest.RunCommand(kReadBlockCount, kCommandTimeout));
  }
  EXPECT_GE(count_after, count_at_switch + 3) << "the block writer stalled after the move\n" << dest.output();
  absl::SleepFor(absl::Seconds(10));
  const std::vector<BackgroundPing::Probe> probes = pinger.Stop();

  // The ping's view of the move: some replies after the switch, and the
  // gap (requests in a row without a reply) bounded.
  size_t answered_after = 0, sent_after = 0, lost = 0, longest_gap = 0, gap = 0;
  for (const BackgroundPing::Probe& probe : probes) {
    if (probe.sent >= switched) {
      ++sent_after;
      answered_after += probe.answered ? 1 : 0;
    }
    lost += probe.answered ? 0 : 1;
    gap = probe.answered ? 0 : gap + 1;
    longest_gap = std::max(longest_gap, gap);
  }
  std::printf("ping from P: %zu sent, %zu lost, longest gap %zu (x200 ms); migration took %.1f s; after the "
              "switch %zu of %zu answered\n",
              probes.size(), lost, longest_gap, absl::ToDoubleSeconds(switched - migration_start), answered_after,
              sent_after);
  EXPECT_GT(answered_after, sent_after / 2) << "the ping did not resume after the move";
  // 10 s without an answer, or 15 s lost in all: far more than a pause, a
  // copy of the last dirty pages and one announce take here.
  EXPECT_LT(longest_gap, 50u);
  EXPECT_LT(lost, 75u);

  // The file written before the move, read from the destination's disk
  // (the page cache dropped, so the read reaches the image).
  std::optional<std::string> read_back =
      dest.RunCommand("sync && echo 3 > /proc/sys/vm/drop_caches && md5sum /mnt/before", kCommandTimeout);
  ASSERT_TRUE(read_back.has_value()) << dest.output();
  EXPECT_NE(read_back->find(before_md5), std::string::npos) << *read_back << "\nexpected " << before_md5;

  // Stop the writer, let it finish its last block, and power off.
  std::optional<std::string> stopped = dest.RunCommand(
      "touch /tmp/stop; while [ ! -e /tmp/stopped ]; do sleep 1; done; umount /mnt && echo writer-stopped",
      kCommandTimeout);
  ASSERT_TRUE(stopped.has_value()) << dest.output();
  EXPECT_NE(stopped->find("writer-stopped"), std::string::npos) << *stopped;
  dest.Send("poweroff -f\n");
  EXPECT_EQ(dest.WaitExit(absl::Seconds(120)), 0) << dest.output() << dest.stderr_text();

  // Every numbered block the guest wrote is in the image, on both sides of
  // the move, each once and in order: block 0's count names the last one,
  // blocks 1..count hold their numbers and nothing lies past the last.
  std::ifstream image(seq_image, std::ios::binary);
  std::string blocks((std::istreambuf_iterator<char>(image)), std::istreambuf_iterator<char>());
  ASSERT_EQ(blocks.size(), kSeqImageBytes);
  const int count = BlockCount(blocks.substr(0, 4096));
  std::printf("the guest wrote %d numbered blocks: %d before the ping started, %d by the switch\n", count,
              count_before, count_at_switch);
  ASSERT_GE(count, count_after);
  ASSERT_LT(static_cast<uint64_t>(count + 1) * 4096, kSeqImageBytes) << "the writer filled the image";
  EXPECT_EQ(blocks.substr(0, 4096), PaddedBlock(absl::StrCat("count-", count)));
  int wrong = 0;
  for (int i = 1; i <= count; ++i) {
    if (blocks.compare(static_cast<size_t>(i) * 4096, 4096, PaddedBlock(absl::StrCat("seq-", i))) != 0) {
      if (++wrong <= 5) ADD_FAILURE() << "block " << i << " does not hold seq-" << i;
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(blocks.find_first_not_of('\0', static_cast<size_t>(count + 1) * 4096), std::string::npos)
      << "data past the last numbered block";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tests
