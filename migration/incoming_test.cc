// SPDX-License-Identifier: MIT
// The destination's accept loop against hostile and broken connections,
// on each transport: garbage, a connection that closes at once, one that
// says nothing; each is logged and dropped and the real source still gets
// in. And --incoming-timeout.
#include "migration/incoming.h"

#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/testing/loopback.h"
#include "migration/testing/plain_vm.h"
#include "migration/testing/test_pki.h"

namespace migration {
namespace {

constexpr uint64_t kRam = 4ull << 20;
const std::vector<memory::RamRegion> kLayout = {{0, kRam}};

class IncomingTest : public ::testing::TestWithParam<Endpoint::Kind> {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/incoming-test-", ::getpid());
    absl::StatusOr<TestCa> ca = TestCa::Create("Incoming Test CA");
    ASSERT_TRUE(ca.ok());
    ASSERT_TRUE(WriteTlsDir(dir_ + "-tls", *ca).ok());
    absl::StatusOr<std::shared_ptr<const TlsCredentials>> tls = TlsCredentials::Load(dir_ + "-tls", "");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
  }
  void TearDown() override { std::filesystem::remove_all(dir_ + "-tls"); }

  Endpoint Where() const {
    if (GetParam() == Endpoint::Kind::kUnix) {
      return Endpoint{.kind = Endpoint::Kind::kUnix, .host = "", .port = 0, .path = dir_ + ".sock"};
    }
    return Endpoint{.kind = GetParam(), .host = "127.0.0.1", .port = NextLoopbackPort(), .path = ""};
  }
  // A connection at the transport level only (no TLS, no preamble).
  static Channel RawConnect(const Endpoint& at) {
    Endpoint raw = at;
    if (raw.kind == Endpoint::Kind::kTls) raw.kind = Endpoint::Kind::kTcp;
    absl::StatusOr<Channel> c = Channel::Connect(raw);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }
  IncomingOptions Options(absl::Duration wait) const {
    return {.tls = tls_.get(), .wait = wait, .per_connection = absl::Milliseconds(500)};
  }

  std::string dir_;
  std::shared_ptr<const TlsCredentials> tls_;
};

TEST_P(IncomingTest, GarbageAndEarlyClosesAreLoggedAndDroppedAndTheSourceStillGetsIn) {
  const Endpoint at = Where();
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  PlainSource source(kLayout);
  for (uint64_t gpa = 0; gpa < kRam; gpa += 2 * memory::kPageSize) source.FillPage(gpa, 0x6b);
  PlainTarget target(kLayout);

  // Three bad connections queue up before the source: one sends garbage,
  // one closes at once, one stays silent past the per-connection limit.
  {
    Channel garbage = RawConnect(at);
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(garbage.Write(http.data(), http.size()).ok());
    { Channel closes = RawConnect(at); }  // connects, then closes at once
    Channel silent = RawConnect(at);
    ::testing::internal::CaptureStderr();
    std::thread closer([&] {
      // Says nothing for longer than the destination waits for it.
      Channel quiet = std::move(silent);
      std::this_thread::sleep_for(std::chrono::seconds(1));
    });
    absl::StatusOr<ReceiveStats> received = absl::UnknownError("not run");
    std::thread destination([&] {
      absl::StatusOr<Channel> in = AcceptSource(*listener, Options(absl::Seconds(60)));
      if (!in.ok()) {
        received = in.status();
        return;
      }
      Receiver receiver(target, *in);
      received = receiver.Run();
      if (received.ok()) {
        EXPECT_TRUE(receiver.SendAck().ok());
        EXPECT_TRUE(receiver.AwaitCommit(absl::Seconds(30)).ok());
      }
    });
    closer.join();
    absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = tls_.get()});
    ASSERT_TRUE(out.ok()) << out.status();
    Sender sender(source, *out, {}, nullptr);
    absl::StatusOr<MigrationStats> sent = sender.Migrate();
    destination.join();
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(sent.ok()) << sent.status() << log;
    ASSERT_TRUE(received.ok()) << received.status() << log;
    // One line per dropped connection, each naming the peer and why.
    std::vector<std::string> dropped;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (absl::StrContains(line, "dropped the connection from")) dropped.emplace_back(line);
    }
    ASSERT_EQ(dropped.size(), 3u) << log;
    const std::string peer = GetParam() == Endpoint::Kind::kUnix ? "local pid" : "127.0.0.1:";
    for (const std::string& line : dropped) EXPECT_NE(line.find(peer), std::string::npos) << line;
    if (GetParam() != Endpoint::Kind::kTls) {
      EXPECT_NE(dropped[0].find("not a vmm migration stream"), std::string::npos) << dropped[0];
    }
  }
  std::vector<uint8_t> a(kRam), b(kRam);
  ASSERT_TRUE(source.memory().ReadBytes(0, a).ok() && target.memory().ReadBytes(0, b).ok());
  EXPECT_EQ(a, b);
}

TEST_P(IncomingTest, IncomingTimeoutEndsTheWaitAndCountsWhatWasDropped) {
  const Endpoint at = Where();
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<Channel> nobody = AcceptSource(*listener, Options(absl::Milliseconds(200)));
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(nobody.status().message().find("--incoming-timeout 200ms"), std::string::npos) << nobody.status();
  EXPECT_NE(nobody.status().message().find("0 connection(s) dropped"), std::string::npos) << nobody.status();

  Channel closes = RawConnect(at);
  closes = RawConnect(at);  // the first one closes here
  ::testing::internal::CaptureStderr();
  absl::StatusOr<Channel> still_nobody = AcceptSource(*listener, Options(absl::Seconds(2)));
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(still_nobody.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(still_nobody.status().message().find("2 connection(s) dropped"), std::string::npos)
      << still_nobody.status();
}

INSTANTIATE_TEST_SUITE_P(Transports, IncomingTest,
                         ::testing::Values(Endpoint::Kind::kTcp, Endpoint::Kind::kTls, Endpoint::Kind::kUnix),
                         [](const auto& info) {
                           switch (info.param) {
                             case Endpoint::Kind::kTcp: return "Tcp";
                             case Endpoint::Kind::kTls: return "Tls";
                             case Endpoint::Kind::kUnix: return "Unix";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace migration
