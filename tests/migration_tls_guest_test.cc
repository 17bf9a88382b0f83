// SPDX-License-Identifier: MIT
// Live migration of the default guest over tls: between two "hosts" (the
// network namespaces of tests/netns_pair.h), with certificates made by the
// test with the openssl command (two throw-away CAs, as README shows):
//  1. a source whose client certificate comes from another CA is refused by
//     the destination, its guest runs on, and the destination keeps
//     listening;
//  2. the real source then moves its guest A -> B to that same destination;
//     `migcheck verify` passes there and a file of marker pages arrives
//     intact;
//  3. the veth link, captured throughout the move (tests/link_capture.h),
//     carried at least the guest's used memory but never a frame holding
//     the marker; a marker sent in the clear over the same link afterwards
//     is found, so the search itself works.
// One guest at a time: the stranger's VMM ends before the real source
// starts; both restore the shared booted guest (a boot costs minutes on PVM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/booted_guest.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"
#include "tests/link_capture.h"
#include "tests/netns_pair.h"
#include "tests/scratch_dir.h"

namespace tests {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// The same marker as migration/tls_channel_test.cc. The guest's file
// repeats it line after line (17 bytes a line, 2^16 lines: 1.06 MiB), so
// any frame carrying 33 bytes of one of its pages holds a whole marker.
constexpr char kMarker[] = "MARKER-PAGE-7d1e";
constexpr uint64_t kMarkerFileMiB = 1;
constexpr int kPort = 7401;

uint64_t Counter(GuestProcess& vm) {
  std::optional<std::string> out = vm.RunCommand("migcheck counter", absl::Seconds(60));
  uint64_t v = 0;
  if (out) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &v);
  return v;
}

// A CA in `dir` (ca-cert.pem, ca-key.pem), with the openssl command.
bool MakeCa(const std::string& dir, const std::string& name) {
  return Shell(absl::StrCat("mkdir -p ", dir, " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 ",
                            "-nodes -days 2 -subj '/CN=", name, "' -keyout ", dir, "/ca-key.pem -out ", dir,
                            "/ca-cert.pem")) == 0;
}

// ROLE-cert.pem and ROLE-key.pem in `out`, signed by the CA in `ca_dir`,
// good for either end of a TLS connection.
bool Issue(const std::string& ca_dir, const std::string& out, const std::string& role) {
  const std::string base = absl::StrCat(out, "/", role);
  return Shell(absl::StrCat("printf 'subjectAltName=DNS:", role, ".test\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ",
                            base, ".ext && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj ",
                            "'/CN=", role, ".test' -keyout ", base, "-key.pem -out ", base, ".csr && openssl x509 -req ",
                            "-in ", base, ".csr -CA ", ca_dir, "/ca-cert.pem -CAkey ", ca_dir,
                            "/ca-key.pem -CAcreateserial -days 2 -extfile ", base, ".ext -out ", base, "-cert.pem")) == 0;
}

// Sends `payload` in one UDP datagram from host `ns` to `to_ip`:`port`
// (nobody needs to listen: the frame crosses the link either way).
absl::Status SendUdpFrom(const std::string& ns, const std::string& to_ip, int port, const std::string& payload) {
  absl::Status sent;
  absl::Status entered = RunInNetns(ns, [&] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    if (fd < 0 || ::inet_pton(AF_INET, to_ip.c_str(), &to.sin_addr) != 1 ||
        ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) !=
            static_cast<ssize_t>(payload.size())) {
      sent = absl::ErrnoToStatus(errno, "sending the clear-text control datagram");
    }
    if (fd >= 0) ::close(fd);
  });
  return entered.ok() ? sent : entered;
}

class MigrationTlsGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KVM();
    ASSERT_TRUE(dir_.ok()) << dir_.why();
    ASSERT_TRUE(MakeCa(dir_.Path("home-ca"), "Home migration CA") && MakeCa(dir_.Path("stranger-ca"), "Stranger CA"))
        << "the openssl command failed";
    // Each host its own pairs from the home CA.
    for (const char* host : {"tls-a", "tls-b"}) {
      ASSERT_EQ(Shell(absl::StrCat("mkdir -p ", dir_.Path(host), " && cp ", dir_.Path("home-ca/ca-cert.pem"), " ",
                                   dir_.Path(host))),
                0);
      ASSERT_TRUE(Issue(dir_.Path("home-ca"), dir_.Path(host), "server") &&
                  Issue(dir_.Path("home-ca"), dir_.Path(host), "client"));
    }
    // The stranger trusts the home CA (so it is the destination that
    // refuses, not the stranger) but presents a client pair from its own;
    // its ca-cert.pem holds both so that its own files load.
    ASSERT_EQ(
        Shell(absl::StrCat("mkdir -p ", dir_.Path("tls-stranger"), " && cat ", dir_.Path("home-ca/ca-cert.pem"), " ",
                           dir_.Path("stranger-ca/ca-cert.pem"), " > ", dir_.Path("tls-stranger/ca-cert.pem"))),
        0);
    ASSERT_TRUE(Issue(dir_.Path("stranger-ca"), dir_.Path("tls-stranger"), "server") &&
                Issue(dir_.Path("stranger-ca"), dir_.Path("tls-stranger"), "client"));
  }

  // A small guest: the test moves its used memory, not its size.
  const std::vector<std::string> shape_ = {"--memory", "256M", "--balloon-reporting=false"};
  ScratchDir dir_{"migration-tls"};
};

TEST_F(MigrationTlsGuestTest, StrangerRefusedThenGuestMovesOverTlsAndTheLinkNeverShowsItsPages) {
  NetnsPair net;
  ASSERT_TRUE(net.ok()) << "cannot create network namespaces (needs root and iproute2)";
  absl::StatusOr<std::string> booted = BootedGuestSnapshot(shape_);
  ASSERT_TRUE(booted.ok()) << booted.status();

  const std::string to_b = absl::StrCat("tls:", net.AddressB(), ":", kPort);
  GuestProcess destination(net.In(net.b()), RunArgs(shape_, {"--api-socket", dir_.Path("b.sock"), "--tls-dir",
                                                             dir_.Path("tls-b"), "--incoming=" + to_b}));
  ASSERT_TRUE(destination.WaitForStderr("waiting for the source", absl::Seconds(30))) << destination.stderr_text();

  // 1. The stranger: handshake refused by the destination, guest runs on.
  {
    GuestProcess stranger(net.In(net.a()), RestoreArgs(shape_, *booted,
                                                       {"--api-socket", dir_.Path("stranger.sock"), "--tls-dir",
                                                        dir_.Path("tls-stranger")}));
    ASSERT_TRUE(stranger.RunCommand("true", absl::Seconds(120)).has_value()) << stranger.stderr_text();
    CtlResult refused = Ctl({"--api", dir_.Path("stranger.sock"), "migrate", to_b, "--json"}, absl::Seconds(120));
    EXPECT_EQ(refused.status, 1) << refused.stdout_text << refused.stderr_text;
    ASSERT_TRUE(refused.json.is_object()) << refused.stdout_text << refused.stderr_text;
    EXPECT_EQ(refused.json.value("state", ""), "failed") << refused.json.dump();
    const std::string dropped = "dropped the connection from " + net.AddressA();
    ASSERT_TRUE(destination.WaitForStderr(dropped, absl::Seconds(30))) << destination.stderr_text();
    EXPECT_NE(destination.stderr_text().find("certificate is refused"), std::string::npos)
        << destination.stderr_text();
    auto alive = stranger.RunCommand("echo stranger-runs-on", absl::Seconds(120));
    ASSERT_TRUE(alive.has_value()) << stranger.stderr_text();
    EXPECT_NE(alive->find("stranger-runs-on"), std::string::npos) << *alive;
    GuestProcess status({"ctl", "--api", dir_.Path("stranger.sock"), "status"});
    ASSERT_EQ(status.WaitExit(absl::Seconds(30)), 0) << status.stderr_text();
    EXPECT_NE(status.output().find("\"running\""), std::string::npos) << status.output();
    stranger.Send("poweroff -f\n");
    EXPECT_EQ(stranger.WaitExit(absl::Seconds(60)), 0) << stranger.stderr_text();
  }
  // Still listening: not exited, and no guest received.
  ASSERT_FALSE(destination.WaitExit(absl::ZeroDuration()).has_value()) << destination.stderr_text();

  // 2. The real source: a checker's 32 MiB under known patterns and 1 MiB
  // of marker pages in the guest's RAM-backed root file system.
  GuestProcess source(
      net.In(net.a()),
      RestoreArgs(shape_, *booted, {"--api-socket", dir_.Path("a.sock"), "--tls-dir", dir_.Path("tls-a")}));
  ASSERT_TRUE(source.RunCommand("true", absl::Seconds(120)).has_value()) << source.stderr_text();
  auto started = source.RunCommand("migcheck start 32", absl::Seconds(300));
  ASSERT_TRUE(started && started->find("filled 32 MiB") != std::string::npos) << source.output();
  // One line, doubled 16 times (busybox `yes` never stops on a closed pipe).
  auto marker_sum = source.RunCommand(
      absl::StrCat("echo ", kMarker, " > /tmp/marker; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do ",
                   "cat /tmp/marker /tmp/marker > /tmp/marker2 && mv /tmp/marker2 /tmp/marker; done; ",
                   "md5sum /tmp/marker"),
      absl::Seconds(300));
  ASSERT_TRUE(marker_sum && marker_sum->find("/tmp/marker") != std::string::npos) << source.output();
  std::optional<std::string> meminfo = source.RunCommand("cat /proc/meminfo", absl::Seconds(60));
  ASSERT_TRUE(meminfo.has_value());
  const uint64_t used_bytes = (MeminfoKib(*meminfo, "MemTotal") - MeminfoKib(*meminfo, "MemFree")) * 1024;
  ASSERT_GT(used_bytes, (32 + kMarkerFileMiB) * kMiB) << *meminfo;
  const uint64_t counter_before = Counter(source);

  absl::StatusOr<std::unique_ptr<LinkCapture>> capture = LinkCapture::Start(net.b(), net.VethB(), kMarker);
  ASSERT_TRUE(capture.ok()) << capture.status();
  // Hinting off: every populated page goes, so the link must carry at
  // least the used memory.
  CtlResult moved = Ctl({"--api", dir_.Path("a.sock"), "migrate", to_b, "--json", "--free-page-hinting=false"});
  const LinkCapture::Totals wire = (*capture)->Stop(absl::Milliseconds(500));
  ASSERT_EQ(moved.status, 0) << moved.stderr_text << source.stderr_text() << destination.stderr_text();
  ASSERT_TRUE(moved.json.is_object()) << moved.stdout_text;
  std::cout << "A -> B over tls: " << moved.json.dump() << "\n";
  std::cout << "link: " << wire.frames << " frames, " << wire.bytes << " bytes, " << wire.marker_frames
            << " with the marker, guest used " << used_bytes << " bytes\n";
  EXPECT_EQ(moved.json.value("state", ""), "completed") << moved.json.dump();
  const std::string encryption = moved.json.value("encryption", "");
  EXPECT_TRUE(encryption == "openssl" || encryption == "ktls") << moved.json.dump();
  EXPECT_NE(destination.stderr_text().find("record layer: " + encryption), std::string::npos)
      << destination.stderr_text();
  EXPECT_EQ(source.WaitExit(absl::Seconds(30)), 0) << source.stderr_text();

  auto verified = destination.RunCommand("migcheck verify", absl::Seconds(120));
  ASSERT_TRUE(verified.has_value()) << destination.output() << destination.stderr_text();
  EXPECT_NE(verified->find("migcheck: ok"), std::string::npos) << *verified;
  EXPECT_GT(Counter(destination), counter_before);
  auto arrived_sum = destination.RunCommand("md5sum /tmp/marker", absl::Seconds(120));
  ASSERT_TRUE(arrived_sum.has_value());
  EXPECT_EQ(*arrived_sum, *marker_sum);

  // 3. What the link showed: all of it, and none of the guest's pages.
  EXPECT_EQ(wire.dropped_frames, 0u);
  EXPECT_EQ(wire.truncated_frames, 0u);
  EXPECT_GE(wire.bytes, used_bytes);
  EXPECT_GE(wire.bytes, moved.json.value("bytes_sent", uint64_t{0}));
  EXPECT_EQ(wire.marker_frames, 0u) << "the guest's marker pages crossed the link in the clear";

  // The control: the same search finds the marker sent in the clear.
  capture = LinkCapture::Start(net.b(), net.VethB(), kMarker);
  ASSERT_TRUE(capture.ok()) << capture.status();
  std::string clear;
  while (clear.size() < 1024) clear += kMarker;
  ASSERT_TRUE(SendUdpFrom(net.a(), net.AddressB(), kPort + 1, clear).ok());
  const LinkCapture::Totals control = (*capture)->Stop(absl::Milliseconds(500));
  EXPECT_GE(control.marker_frames, 1u) << control.frames << " frames captured";

  destination.Send("poweroff -f\n");
  EXPECT_EQ(destination.WaitExit(absl::Seconds(60)), 0);
}

}  // namespace
}  // namespace tests
