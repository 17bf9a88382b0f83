// SPDX-License-Identifier: MIT
// The tls: transport over loopback: credentials made by the test (two
// CAs that do not know each other), the handshake, bytes both ways, a
// whole migration stream, what the wire carries, and refusals.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "migration/cancel_switch.h"
#include "migration/channel.h"
#include "migration/incoming.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/testing/loopback.h"
#include "migration/testing/plain_vm.h"
#include "migration/testing/test_pki.h"
#include "migration/tls_credentials.h"

namespace migration {
namespace {

constexpr uint64_t kRam = 8ull << 20;
const std::vector<memory::RamRegion> kLayout = {{0, kRam}};
// A page of this pattern is the guest secret the wire must not show.
constexpr char kMarker[] = "MARKER-PAGE-7d1e";

std::string TestDir(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/tls-test-", ::getpid(), "-", name);
}

Endpoint Loopback(Endpoint::Kind kind, uint16_t port) {
  return Endpoint{.kind = kind, .host = "127.0.0.1", .port = port, .path = ""};
}

// Two organisations: `home` (whose certificates the tests use) and
// `stranger`, plus --tls-dir directories made from them.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_.emplace(*TestCa::Create("Home Migration CA"));
    stranger_.emplace(*TestCa::Create("Stranger CA"));
    ASSERT_TRUE(WriteTlsDir(TestDir("home"), *home_).ok());
    ASSERT_TRUE(WriteTlsDir(TestDir("stranger"), *stranger_).ok());
  }
  static void TearDownTestSuite() {
    for (const char* d : {"home", "stranger"}) std::filesystem::remove_all(TestDir(d));
    home_.reset();
    stranger_.reset();
  }
  static std::shared_ptr<const TlsCredentials> Credentials(const std::string& dir, const std::string& peer = "") {
    absl::StatusOr<std::shared_ptr<const TlsCredentials>> c = TlsCredentials::Load(TestDir(dir), peer);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }
  static inline std::optional<TestCa> home_;
  static inline std::optional<TestCa> stranger_;
};

// The handshake of one connection: the server side's result and the
// client's.
struct HandshakeResult {
  absl::Status server, client;
  std::string client_encryption;
};

HandshakeResult Handshake(const TlsCredentials& server_side, const TlsCredentials& client_side) {
  const Endpoint at = Loopback(Endpoint::Kind::kTls, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  if (!listener.ok()) return {listener.status(), listener.status(), ""};
  HandshakeResult result;
  std::thread server([&] {
    absl::StatusOr<Channel> in = listener->Accept(absl::Seconds(10));
    result.server = in.ok() ? in->StartTls(server_side, TlsRole::kServer, absl::Now() + absl::Seconds(10))
                            : in.status();
  });
  absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = &client_side});
  result.client = out.status();
  if (out.ok()) result.client_encryption = out->Encryption();
  server.join();
  return result;
}

TEST_F(TlsTest, BytesGoBothWaysEncryptedAndTheRecordLayerIsNamed) {
  auto server_side = Credentials("home");
  auto client_side = Credentials("home", "destination.test");  // the server's name is checked too
  const Endpoint at = Loopback(Endpoint::Kind::kTls, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::vector<uint8_t> sent(3 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + (i >> 13));
  std::vector<uint8_t> reply(100000, 0xab);
  std::thread source([&] {
    absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = client_side.get()});
    ASSERT_TRUE(out.ok()) << out.status();
    const std::string encryption = out->Encryption();
    EXPECT_TRUE(encryption == "openssl" || encryption == "ktls") << encryption;
    std::cout << "record layer on this host: " << encryption << "\n";
    // Small pieces between large ones (headers between pages).
    iovec iov[] = {{sent.data(), 10}, {sent.data() + 10, sent.size() - 20}, {sent.data() + sent.size() - 10, 10}};
    absl::Status written = out->WriteAll(iov);
    ASSERT_TRUE(written.ok()) << written;
    EXPECT_EQ(out->bytes_written(), sent.size());
    std::vector<uint8_t> got(reply.size());
    ASSERT_TRUE(out->ReadExact(got.data(), got.size()).ok());
    EXPECT_EQ(got, reply);
  });
  absl::StatusOr<Channel> in = listener->Accept(absl::Seconds(10));
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_TRUE(in->StartTls(*server_side, TlsRole::kServer, absl::Now() + absl::Seconds(10)).ok());
  EXPECT_NE(in->DescribeTls().find("source.test"), std::string::npos) << in->DescribeTls();
  std::vector<uint8_t> got(sent.size());
  absl::Status read = in->ReadExact(got.data(), got.size());
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_EQ(got, sent);
  ASSERT_TRUE(in->Write(reply.data(), reply.size()).ok());
  source.join();
  uint8_t extra;
  absl::Status eof = in->ReadExact(&extra, 1);
  EXPECT_NE(eof.message().find("truncated"), std::string::npos) << eof;
}

TEST_F(TlsTest, ACertificateFromAnotherCaIsRefusedEitherWay) {
  auto home = Credentials("home");
  auto stranger = Credentials("stranger");
  // Each side refuses the other's certificate.
  HandshakeResult both = Handshake(*home, *stranger);
  EXPECT_FALSE(both.server.ok());
  EXPECT_FALSE(both.client.ok());
  EXPECT_NE(both.client.message().find("certificate is refused"), std::string::npos) << both.client;

  // A source that trusts both CAs but whose own certificate is the
  // stranger's: the destination refuses it.
  absl::StatusOr<IssuedPair> server_pair = home_->Issue("destination.test");
  absl::StatusOr<IssuedPair> client_pair = stranger_->Issue("source.test");
  ASSERT_TRUE(server_pair.ok() && client_pair.ok());
  const std::string both_cas = home_->cert_pem() + stranger_->cert_pem();
  ASSERT_TRUE(WriteTlsDir(TestDir("stranger-client"), both_cas, *server_pair, *client_pair).ok());
  HandshakeResult source_refused = Handshake(*home, *Credentials("stranger-client"));
  EXPECT_EQ(source_refused.server.code(), absl::StatusCode::kPermissionDenied) << source_refused.server;
  EXPECT_NE(source_refused.server.message().find("certificate is refused"), std::string::npos)
      << source_refused.server;

  // A destination whose certificate is the stranger's: the source refuses it.
  absl::StatusOr<IssuedPair> stranger_server = stranger_->Issue("destination.test");
  absl::StatusOr<IssuedPair> home_client = home_->Issue("source.test");
  ASSERT_TRUE(WriteTlsDir(TestDir("stranger-server"), both_cas, *stranger_server, *home_client).ok());
  HandshakeResult destination_refused = Handshake(*Credentials("stranger-server"), *home);
  EXPECT_EQ(destination_refused.client.code(), absl::StatusCode::kPermissionDenied) << destination_refused.client;
  EXPECT_NE(destination_refused.client.message().find("certificate is refused"), std::string::npos)
      << destination_refused.client;
  for (const char* d : {"stranger-client", "stranger-server"}) std::filesystem::remove_all(TestDir(d));
}

TEST_F(TlsTest, AWrongPeerNameIsRefusedAndTheRightOnesPass) {
  auto home = Credentials("home");
  HandshakeResult wrong = Handshake(*home, *Credentials("home", "someone-else.test"));
  EXPECT_EQ(wrong.client.code(), absl::StatusCode::kPermissionDenied) << wrong.client;
  EXPECT_NE(wrong.client.message().find("mismatch"), std::string::npos) << wrong.client;
  // The destination checks the source's name the same way.
  HandshakeResult wrong_source = Handshake(*Credentials("home", "destination.test"), *home);
  EXPECT_FALSE(wrong_source.server.ok());
  EXPECT_TRUE(Handshake(*Credentials("home", "source.test"), *Credentials("home", "destination.test")).client.ok());
  EXPECT_TRUE(Handshake(*home, *Credentials("home", "127.0.0.1")).client.ok());  // an IP subjectAltName
}

// Every problem with --tls-dir is one error naming the file, at load.
TEST_F(TlsTest, BadCredentialsAreRefusedAtLoadNamingTheFile) {
  EXPECT_NE(TlsCredentials::Load(TestDir("nowhere"), "").status().message().find("is not a directory"),
            std::string::npos);
  const std::string dir = TestDir("broken");
  auto load_error = [&] { return std::string(TlsCredentials::Load(dir, "").status().message()); };
  absl::StatusOr<IssuedPair> server = home_->Issue("destination.test");
  absl::StatusOr<IssuedPair> client = home_->Issue("source.test");
  absl::StatusOr<IssuedPair> other = home_->Issue("other.test");
  absl::StatusOr<IssuedPair> foreign = stranger_->Issue("destination.test");
  ASSERT_TRUE(server.ok() && client.ok() && other.ok() && foreign.ok());

  ASSERT_TRUE(WriteTlsDir(dir, home_->cert_pem(), *server, *client).ok());
  EXPECT_TRUE(TlsCredentials::Load(dir, "").ok());
  std::filesystem::remove(dir + "/client-key.pem");
  EXPECT_NE(load_error().find(dir + "/client-key.pem"), std::string::npos) << load_error();

  ASSERT_TRUE(WriteTlsDir(dir, home_->cert_pem(), {server->cert_pem, other->key_pem}, *client).ok());
  EXPECT_NE(load_error().find("server-key.pem: does not belong to"), std::string::npos) << load_error();

  ASSERT_TRUE(WriteTlsDir(dir, home_->cert_pem(), *foreign, *client).ok());
  EXPECT_NE(load_error().find("server-cert.pem: does not verify against"), std::string::npos) << load_error();

  ASSERT_TRUE(WriteTlsDir(dir, "not a certificate\n", *server, *client).ok());
  EXPECT_NE(load_error().find("ca-cert.pem"), std::string::npos) << load_error();

  ASSERT_TRUE(WriteTlsDir(dir, home_->cert_pem(), {"-----BEGIN CERTIFICATE-----\nxx\n", server->key_pem}, *client).ok());
  EXPECT_NE(load_error().find("server-cert.pem: not a PEM certificate"), std::string::npos) << load_error();
  std::filesystem::remove_all(dir);
}

TEST_F(TlsTest, TlsEndpointWithoutCredentialsIsRefusedBeforeConnecting) {
  absl::StatusOr<Channel> out = Channel::Connect(Loopback(Endpoint::Kind::kTls, 1));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("--tls-dir"), std::string::npos) << out.status();
}

// A migration of a VM whose RAM holds marker pages, from a source to a
// destination through a relay that keeps what went over the "wire".
struct WireRun {
  absl::StatusOr<MigrationStats> sent = absl::UnknownError("not run");
  absl::StatusOr<ReceiveStats> received = absl::UnknownError("not run");
  bool same_ram = false;
  std::vector<uint8_t> wire;
};

WireRun MigrateThroughRelay(Endpoint::Kind kind, const TlsCredentials* tls) {
  WireRun run;
  PlainSource source(kLayout);
  for (uint64_t gpa = 0; gpa < kRam; gpa += 3 * memory::kPageSize) source.FillPage(gpa, 0x5a);
  std::vector<uint8_t> marker(memory::kPageSize);
  for (size_t i = 0; i < marker.size(); ++i) marker[i] = static_cast<uint8_t>(kMarker[i % (sizeof(kMarker) - 1)]);
  for (uint64_t gpa = memory::kPageSize; gpa < kRam; gpa += 64 * memory::kPageSize) {
    EXPECT_TRUE(source.memory().WriteBytes(gpa, marker).ok());
  }
  PlainTarget target(kLayout);
  const Endpoint at = Loopback(kind, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  if (!listener.ok()) {
    run.sent = listener.status();
    return run;
  }
  {
    Relay relay(at.port);
    std::thread destination([&] {
      absl::StatusOr<Channel> in = AcceptSource(*listener, {.tls = tls, .wait = absl::Seconds(30)});
      if (!in.ok()) {
        run.received = in.status();
        return;
      }
      Receiver receiver(target, *in);
      run.received = receiver.Run();
      if (run.received.ok()) {
        // The explicit commit (FORMAT.md, "Failures"): ACK, then COMMIT.
        EXPECT_TRUE(receiver.SendAck().ok());
        EXPECT_TRUE(receiver.AwaitCommit(absl::Seconds(30)).ok());
      }
    });
    absl::StatusOr<Channel> out = Channel::Connect(Loopback(kind, relay.port()), {.tls = tls});
    if (out.ok()) {
      Sender sender(source, *out, {}, nullptr);
      run.sent = sender.Migrate();
    } else {
      run.sent = out.status();
    }
    destination.join();
    out = absl::UnknownError("closed");  // the relay ends when the source's side closes
    run.wire = relay.TakeUpstream();
  }
  std::vector<uint8_t> a(kRam), b(kRam);
  run.same_ram = source.memory().ReadBytes(0, a).ok() && target.memory().ReadBytes(0, b).ok() && a == b;
  return run;
}

bool Contains(const std::vector<uint8_t>& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

TEST_F(TlsTest, AMigrationOverTlsArrivesIntactAndTheWireDoesNotShowTheGuestsPages) {
  auto home = Credentials("home");
  WireRun tls = MigrateThroughRelay(Endpoint::Kind::kTls, home.get());
  ASSERT_TRUE(tls.sent.ok()) << tls.sent.status();
  ASSERT_TRUE(tls.received.ok()) << tls.received.status();
  EXPECT_EQ(tls.sent->phase, "completed");
  EXPECT_TRUE(tls.same_ram);
  EXPECT_GT(tls.wire.size(), 0u);
  EXPECT_GT(tls.wire.size(), tls.sent->bytes_sent);  // records add their overhead
  EXPECT_FALSE(Contains(tls.wire, kMarker)) << "guest pages visible on the wire over tls:";

  // The same over plain tcp: the marker is right there (the check can fail).
  WireRun plain = MigrateThroughRelay(Endpoint::Kind::kTcp, nullptr);
  ASSERT_TRUE(plain.sent.ok()) << plain.sent.status();
  EXPECT_TRUE(plain.same_ram);
  EXPECT_TRUE(Contains(plain.wire, kMarker));
}

// A small migration over whatever record layer this kernel offers: kTLS
// where it has CONFIG_TLS (pages then go out by writev, encrypted by the
// kernel), OpenSSL's records where it has not. With VMM_EXPECT_KTLS=1 in
// the environment both ends must have handed their sending side to the
// kernel: tests/ktls_guest_test runs this test inside a guest whose
// kernel has kTLS, as no host kernel here has it.
TEST_F(TlsTest, AMigrationArrivesOverTheRecordLayerThisKernelOffers) {
  auto home = Credentials("home");
  const char* expect = std::getenv("VMM_EXPECT_KTLS");
  const bool want_kernel = expect != nullptr && std::string(expect) == "1";
  constexpr uint64_t kSmallRam = 1ull << 20;
  const std::vector<memory::RamRegion> layout = {{0, kSmallRam}};
  PlainSource source(layout);
  for (uint64_t gpa = 0; gpa < kSmallRam; gpa += 4 * memory::kPageSize) source.FillPage(gpa, 0x3c);
  PlainTarget target(layout);
  const Endpoint at = Loopback(Endpoint::Kind::kTls, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<ReceiveStats> received = absl::UnknownError("not run");
  std::string receiver_layer;
  std::thread destination([&] {
    // Generous limits: inside an emulated guest the kernel's work is slow.
    absl::StatusOr<Channel> in = AcceptSource(*listener, {.tls = home.get(),
                                                          .wait = absl::Seconds(60),
                                                          .per_connection = absl::Seconds(60),
                                                          .io_timeout = absl::Seconds(60)});
    if (!in.ok()) {
      received = in.status();
      return;
    }
    receiver_layer = in->Encryption();
    Receiver receiver(target, *in);
    received = receiver.Run();
    if (received.ok()) {
      EXPECT_TRUE(receiver.SendAck().ok());
      EXPECT_TRUE(receiver.AwaitCommit(absl::Seconds(60)).ok());
    }
  });
  absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = home.get(), .io_timeout = absl::Seconds(60)});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string sender_layer = out->Encryption();
  Sender sender(source, *out, {}, nullptr);
  absl::StatusOr<MigrationStats> sent = sender.Migrate();
  destination.join();
  std::cout << "record layer: source " << sender_layer << ", destination " << receiver_layer << "\n";
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(sent->phase, "completed");
  std::vector<uint8_t> a(kSmallRam), b(kSmallRam);
  ASSERT_TRUE(source.memory().ReadBytes(0, a).ok() && target.memory().ReadBytes(0, b).ok());
  EXPECT_TRUE(a == b);
  for (const std::string& layer : {sender_layer, receiver_layer}) {
    EXPECT_TRUE(layer == "openssl" || layer == "ktls" || layer == "ktls-send" || layer == "ktls-receive") << layer;
    if (want_kernel) {
      EXPECT_TRUE(layer == "ktls" || layer == "ktls-send") << layer;
    }
  }
}

// A record OpenSSL has already read and decrypted is not on the socket any
// more: a poll() on the descriptor would wait for nothing. Here the source
// sends two COMMITs in one TLS record (one write); the first is read, the
// second waits in OpenSSL while the socket is empty and the connection
// stays open. Receiver::AwaitCommit (like Sender::ReadAnswer, through
// Channel::WaitReadable) must take it at once rather than time out.
TEST_F(TlsTest, ACommitAlreadyDecryptedByOpensslIsSeenByAwaitCommit) {
  std::shared_ptr<const TlsCredentials> home = Credentials("home");
  ASSERT_NE(home, nullptr);
  const Endpoint at = Loopback(Endpoint::Kind::kTls, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::atomic<bool> done{false};
  RecordHeader committed{};
  absl::Status confirmation = absl::UnknownError("not read");
  std::thread source([&] {
    absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = home.get()});
    ASSERT_TRUE(out.ok()) << out.status();
    const RecordHeader commit[2] = {MakeHeader(RecordType::kCommit, 0, 0, 0, 0),
                                    MakeHeader(RecordType::kCommit, 0, 0, 0, 0)};
    ASSERT_TRUE(out->Write(commit, sizeof(commit)).ok());
    confirmation = out->ReadExact(&committed, sizeof(committed));
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  absl::StatusOr<Channel> in = listener->Accept(absl::Seconds(10));
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_TRUE(in->StartTls(*home, TlsRole::kServer, absl::Now() + absl::Seconds(10)).ok());
  RecordHeader first;
  ASSERT_TRUE(in->ReadExact(&first, sizeof(first)).ok());
  PlainTarget target(kLayout);
  Receiver receiver(target, *in);
  absl::Status st = receiver.AwaitCommit(absl::Milliseconds(300));
  done = true;
  source.join();
  EXPECT_TRUE(st.ok()) << st;
  ASSERT_TRUE(confirmation.ok()) << confirmation;
  EXPECT_TRUE(HeaderCrcOk(committed));
  EXPECT_EQ(committed.type, static_cast<uint32_t>(RecordType::kCommitted));
}

// Cancel over tls: while the sender waits on the destination, blocked in a
// write the destination never reads (OpenSSL's or the kernel's records
// stuck behind a full socket), or in the wait for a ROUND_SYNC that never
// comes (a poll, with OpenSSL possibly holding bytes of its own). The
// cancel shuts the socket down under the TLS session; that must wake the
// wait at once. The peer timeout is far longer than ctest lets the test
// run, so a cancel that did not wake the sender hangs the test instead of
// passing it; and the guest must run here again, the destination never.
enum class Stall { kStopsReading, kNeverAnswers };

class TlsCancelTest : public TlsTest, public ::testing::WithParamInterface<Stall> {};

TEST_P(TlsCancelTest, CancelWakesTheBlockedSenderAndTheGuestRunsHereAgain) {
  // A write into a peer that is gone fails with EPIPE (the VMM ignores
  // SIGPIPE too), instead of ending the test binary.
  ::signal(SIGPIPE, SIG_IGN);
  std::shared_ptr<const TlsCredentials> home = Credentials("home");
  ASSERT_NE(home, nullptr);
  // More than loopback's socket buffers hold, so the stalled destination
  // leaves the sender blocked in round 1.
  const std::vector<memory::RamRegion> layout = {{0, 64ull << 20}};
  PlainSource source(layout);
  for (uint64_t gpa = 0; gpa < (64ull << 20); gpa += memory::kPageSize) source.FillPage(gpa, 0x5a);
  PlainTarget target(layout);
  const Endpoint at = Loopback(Endpoint::Kind::kTls, NextLoopbackPort());
  absl::StatusOr<Listener> listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();

  std::atomic<bool> sender_done{false};
  absl::Status received = absl::UnknownError("not run");
  std::thread destination([&] {
    absl::StatusOr<Channel> in = AcceptSource(*listener, {.tls = home.get(), .wait = absl::Seconds(30)});
    if (!in.ok()) {
      received = in.status();
      return;
    }
    in->set_io_timeout(absl::InfiniteDuration());
    if (GetParam() == Stall::kStopsReading) {
      while (!sender_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      received = Receiver(target, *in).Run().status();  // what arrived before the cancel: no END
      return;
    }
    // Reads all it is sent and never answers: the sender ends up waiting
    // for the last round's ROUND_SYNC (the last read waits for the rest of
    // a piece that never comes, until the cancel ends the stream).
    std::vector<uint8_t> sink(memory::kPageSize);
    while (true) {
      received = in->ReadExact(sink.data(), sink.size());
      if (!received.ok()) return;
    }
  });

  absl::StatusOr<Channel> out = Channel::Connect(at, {.tls = home.get()});
  ASSERT_TRUE(out.ok()) << out.status();
  CancelSwitch cancel;
  std::atomic<bool> waiting{false};
  Sender sender(
      source, *out, {.peer_timeout_ms = 3600e3},
      [&](const MigrationStats& s) {
        // Round 1 is under way (stalls in a write), or the rounds are
        // over and the sender waits for ROUND_SYNC.
        if (s.phase == (GetParam() == Stall::kStopsReading ? "precopy" : "stop-and-copy")) waiting = true;
      },
      &cancel);
  std::optional<CancelSwitch::CancelResult> cancelled;
  std::thread operator_thread([&] {
    while (!waiting.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the sender block
    cancelled = cancel.Cancel();
  });
  absl::StatusOr<MigrationStats> result = sender.Migrate();
  operator_thread.join();
  sender_done = true;
  destination.join();

  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(*cancelled, CancelSwitch::CancelResult::kCancelled);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(sender.outcome_unknown());
  EXPECT_EQ(sender.stats().phase, kPhaseCancelled) << sender.stats().error;
  EXPECT_FALSE(source.paused);
  EXPECT_FALSE(source.logging);
  EXPECT_FALSE(received.ok());  // the destination has no END: it never runs the guest
}

INSTANTIATE_TEST_SUITE_P(While, TlsCancelTest, ::testing::Values(Stall::kStopsReading, Stall::kNeverAnswers),
                         [](const auto& info) {
                           return info.param == Stall::kStopsReading ? "WritingIntoAStalledDestination"
                                                                     : "WaitingForRoundSync";
                         });

}  // namespace
}  // namespace migration
