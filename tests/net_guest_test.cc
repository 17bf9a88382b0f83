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
// Needs root (the namespaces and the taps), CONFIG_VIRTIO_NET and
// CONFIG_INET in the guest kernel, and busybox on the host (the guest
// image's build installs it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include <cstdio>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
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

// The output of `command` (a shell line), or nullopt when it fails.
std::optional<std::string> HostCommand(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  return ::pclose(pipe) == 0 ? std::optional<std::string>(out) : std::nullopt;
}

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

// A packet socket for RARP frames on `ifname` inside the named namespace:
// made on a thread that enters it (a thread's namespace is its own), then
// used from any thread. -1 when it cannot be made.
int RarpSocketIn(const std::string& ns, const std::string& ifname) {
  int result = -1;
  std::thread inside([&] {
    const int ns_fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) return;
    const bool entered = ::setns(ns_fd, CLONE_NEWNET) == 0;
    ::close(ns_fd);
    if (!entered) return;
    const int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_RARP));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_RARP);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    if (s < 0 || addr.sll_ifindex == 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (s >= 0) ::close(s);
      return;
    }
    result = s;
  });
  inside.join();
  return result;
}

TEST(NetGuestTest, MigratedGuestIsAnnouncedOnItsNewTapAndAnswersThere) {
  REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces and taps";
  if (!HostCommand("command -v busybox && command -v ip").has_value()) GTEST_SKIP() << "no busybox or ip on the host";
  HostNetwork a("a"), b("b");
  ASSERT_TRUE(a.ok() && b.ok()) << "could not make the namespaces and taps";
  const std::string dir = absl::StrCat(::testing::TempDir(), "/net-migrate-", ::getpid());
  std::filesystem::create_directories(dir);
  const std::vector<std::string> shape = {"run", "--memory", "512M"};

  std::vector<std::string> source_args = shape;
  source_args.insert(source_args.end(), {"--net", absl::StrCat("tap=", kTap, ",mac=", kMac), "--api-socket",
                                         dir + "/a.sock"});
  GuestProcess source({"ip", "netns", "exec", a.ns()}, source_args);
  ASSERT_TRUE(source.WaitFor(kReadyMarker, kBootTimeout)) << source.output() << source.stderr_text();
  std::optional<std::string> ping = source.RunCommand(
      absl::StrCat("ip addr add ", kGuestIp, "/24 dev eth0 && ip link set eth0 up && ping -c 2 -W 20 ", kHostIp),
      kCommandTimeout);
  ASSERT_TRUE(ping.has_value()) << source.output();
  ASSERT_NE(ping->find("2 packets received"), std::string::npos) << *ping;

  // The destination on "host" B takes the source's MAC (no mac= here).
  const int rarp = RarpSocketIn(b.ns(), kTap);
  ASSERT_GE(rarp, 0) << "no packet socket on B's tap";
  std::vector<std::string> dest_args = shape;
  dest_args.insert(dest_args.end(), {"--net", absl::StrCat("tap=", kTap), "--incoming", "unix:" + dir + "/mig.sock"});
  GuestProcess dest({"ip", "netns", "exec", b.ns()}, dest_args);
  for (int i = 0; i < 300 && !std::filesystem::exists(dir + "/mig.sock"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  GuestProcess migrate({"ctl", "--api-socket", dir + "/a.sock", "migrate", "unix:" + dir + "/mig.sock"});
  ASSERT_EQ(migrate.WaitExit(absl::Seconds(900)), 0) << migrate.stderr_text() << dest.stderr_text();
  EXPECT_EQ(source.WaitExit(absl::Seconds(60)), 0) << source.stderr_text();

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

}  // namespace
}  // namespace tests
