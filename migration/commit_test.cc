// SPDX-License-Identifier: MIT
// The end of a live migration under failures: the explicit commit (ACK ->
// COMMIT -> COMMITTED), deadlines on a stalled peer, and cancel. Each test
// injects one fault between a real Sender and a destination over a socket
// pair and checks the rule of migration/FORMAT.md, "Failures": at no point
// may both copies run, and the source runs again exactly when the
// destination cannot.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "migration/cancel_switch.h"
#include "migration/receiver.h"
#include "migration/sender.h"
#include "migration/testing/plain_vm.h"
#include "migration/wire_format.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;
constexpr double kShortTimeoutMs = 300;

// A write into a socket whose peer is gone must fail with EPIPE, as in the
// VMM (Machine::Run ignores SIGPIPE), not end the test binary.
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::vector<memory::RamRegion> Layout() { return {{0, 8 << 20}}; }

struct Link {
  Channel source, destination;
};

Link Connected() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  return {Channel(base::UniqueFd(sv[0]), "source", true), Channel(base::UniqueFd(sv[1]), "destination", true)};
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What the destination does once it has read (or failed to read) the
// stream; it keeps its end of the socket open until the sender is done, so
// no fault here is a closed connection unless the test closes it.
using Destination = std::function<void(Receiver&, PlainTarget&, Channel&)>;

struct Outcome {
  absl::StatusOr<MigrationStats> result;
  MigrationStats stats;
  bool unknown = false;
};

Outcome Migrate(PlainSource& src, PlainTarget& dst, const Destination& destination, MigrationOptions options = {},
                CancelSwitch* cancel = nullptr, Sender::ProgressCallback on_progress = nullptr) {
  Link link = Connected();
  std::atomic<bool> sender_done{false};
  std::thread destination_thread([&] {
    Receiver receiver(dst, link.destination);
    destination(receiver, dst, link.destination);
    while (!sender_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  Sender sender(src, link.source, options, std::move(on_progress), cancel);
  Outcome out{.result = sender.Migrate()};
  out.stats = sender.stats();
  out.unknown = sender.outcome_unknown();
  ::shutdown(link.source.fd(), SHUT_RDWR);  // a destination still reading sees the end
  sender_done.store(true);
  destination_thread.join();
  return out;
}

// The rule before END (and on a definite ERROR): the migration failed and
// the guest runs here again, resumed `resumes` times (0: never paused).
void ExpectGuestRunsHereAgain(const Outcome& out, const PlainSource& src, int resumes) {
  EXPECT_FALSE(out.result.ok());
  EXPECT_FALSE(out.unknown);
  EXPECT_FALSE(src.paused);
  EXPECT_EQ(src.resumes, resumes);
  EXPECT_FALSE(src.logging);
}

void FillSome(PlainSource& src) {
  for (memory::Gpa gpa = 0; gpa < (1 << 20); gpa += kPage) src.FillPage(gpa, 0x5a);
}

// A snapshot of a filled source in a file named after `name`; its path.
std::string SnapshotFile(const std::string& name) {
  PlainSource src(Layout());
  FillSome(src);
  const std::string path = ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
  absl::StatusOr<Channel> file = Channel::CreateFile(path);
  if (!file.ok() || !Sender(src, *file, {}, nullptr).Snapshot().ok()) return "";
  return path;
}

TEST(CommitTest, TheGuestRunsAtTheDestinationOnlyAfterCommit) {
  PlainSource src(Layout());
  FillSome(src);
  PlainTarget dst(Layout());
  absl::Status committed = absl::UnknownError("not reached");
  Outcome out = Migrate(src, dst, [&](Receiver& r, PlainTarget&, Channel&) {
    ASSERT_TRUE(r.Run().ok());
    ASSERT_TRUE(r.SendAck().ok());
    committed = r.AwaitCommit(absl::Seconds(30));
  });
  ASSERT_TRUE(out.result.ok()) << out.result.status();
  EXPECT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(out.stats.phase, kPhaseCompleted);
  EXPECT_TRUE(src.paused);  // and stays so: the destination owns the guest
  EXPECT_EQ(src.resumes, 0);
}

TEST(CommitTest, DestinationThatNeverAcksLeavesTheSourcePausedInUnknownOutcome) {
  PlainSource src(Layout());
  FillSome(src);
  PlainTarget dst(Layout());
  CancelSwitch cancel;
  std::optional<CancelSwitch::CancelResult> late_cancel;
  Outcome out = Migrate(
      src, dst, [&](Receiver& r, PlainTarget&, Channel&) { ASSERT_TRUE(r.Run().ok()); },
      {.peer_timeout_ms = kShortTimeoutMs}, &cancel, [&](const MigrationStats& s) {
        // Past END a cancel must be refused: only the destination's answer
        // (or an operator who knows it) may decide which copy runs.
        if (s.phase == kPhaseAwaitingAck && !late_cancel) late_cancel = cancel.Cancel();
      });
  ASSERT_FALSE(out.result.ok());
  EXPECT_TRUE(out.unknown);
  EXPECT_EQ(out.stats.phase, kPhaseUnknownOutcome);
  EXPECT_TRUE(Contains(out.stats.error, "COMMIT was not sent")) << out.stats.error;
  EXPECT_TRUE(src.paused);
  EXPECT_EQ(src.resumes, 0);  // never resumed on a timeout
  EXPECT_FALSE(src.logging);
  ASSERT_TRUE(late_cancel.has_value());
  EXPECT_EQ(*late_cancel, CancelSwitch::CancelResult::kTooLate);
}

TEST(CommitTest, DestinationErrorAfterEndResumesTheSource) {
  PlainSource src(Layout());
  FillSome(src);
  PlainTarget dst(Layout());
  dst.load_error = "this host lacks XSAVE feature 9";
  bool end_was_sent = false;
  Outcome out = Migrate(
      src, dst,
      [&](Receiver& r, PlainTarget&, Channel&) {
        absl::StatusOr<ReceiveStats> got = r.Run();
        ASSERT_FALSE(got.ok());
        r.SendError(got.status());
      },
      {.peer_timeout_ms = 30000}, nullptr, [&](const MigrationStats& s) { end_was_sent |= s.phase == kPhaseAwaitingAck; });
  ExpectGuestRunsHereAgain(out, src, 1);
  EXPECT_TRUE(end_was_sent);  // the ERROR came while the source waited for ACK
  EXPECT_EQ(out.stats.phase, kPhaseFailed);
  EXPECT_TRUE(Contains(out.stats.error, "XSAVE feature 9")) << out.stats.error;
}

TEST(CommitTest, LostCommittedLeavesTheSourcePausedInUnknownOutcome) {
  PlainSource src(Layout());
  FillSome(src);
  PlainTarget dst(Layout());
  Outcome out = Migrate(
      src, dst,
      [&](Receiver& r, PlainTarget&, Channel& ch) {
        ASSERT_TRUE(r.Run().ok());
        ASSERT_TRUE(r.SendAck().ok());
        RecordHeader commit;
        ASSERT_TRUE(ch.ReadExact(&commit, sizeof(commit)).ok());  // read, never confirmed
        EXPECT_EQ(commit.type, static_cast<uint32_t>(RecordType::kCommit));
      },
      {.peer_timeout_ms = kShortTimeoutMs});
  ASSERT_FALSE(out.result.ok());
  EXPECT_TRUE(out.unknown);
  EXPECT_TRUE(Contains(out.stats.error, "may be running")) << out.stats.error;
  EXPECT_TRUE(src.paused);
  EXPECT_EQ(src.resumes, 0);
}

// The destination's side of a lost ACK (or a source that stalls or dies
// after it): without COMMIT the guest never runs there.
class NoCommitTest : public ::testing::TestWithParam<bool> {};

TEST_P(NoCommitTest, DestinationNeverRunsWithoutCommit) {
  const bool source_closes = GetParam();
  // A whole version-3 stream, as a snapshot writes it, sent over a socket
  // by a source that reads the ACK and then sends nothing.
  const std::string path = SnapshotFile("no-commit");
  ASSERT_FALSE(path.empty());
  std::ifstream f(path, std::ios::binary);
  std::vector<char> stream((std::istreambuf_iterator<char>(f)), {});
  std::remove(path.c_str());
  Link link = Connected();
  std::thread source([&] {
    ASSERT_TRUE(link.source.Write(stream.data(), stream.size()).ok());
    RecordHeader ack;
    ASSERT_TRUE(link.source.ReadExact(&ack, sizeof(ack)).ok());
    EXPECT_EQ(ack.type, static_cast<uint32_t>(RecordType::kAck));
    if (source_closes) ::shutdown(link.source.fd(), SHUT_RDWR);
  });
  PlainTarget dst(Layout());
  Receiver receiver(dst, link.destination);
  ASSERT_TRUE(receiver.Run().ok());
  ASSERT_TRUE(receiver.SendAck().ok());
  absl::Status st = receiver.AwaitCommit(absl::Milliseconds(kShortTimeoutMs));
  source.join();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(std::string(st.message()), "the guest does not run here")) << st;
  EXPECT_TRUE(Contains(std::string(st.message()), source_closes ? "closed the connection" : "no COMMIT")) << st;
}

INSTANTIATE_TEST_SUITE_P(SourceSide, NoCommitTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "SourceCloses" : "SourceStalls"; });

// A COMMIT whose first bytes arrive in time and whose rest never does: the
// destination's wait for COMMIT is bounded as a whole, not stretched by the
// channel's io_timeout (longer by design: it covers the source's silences
// during the rounds), and the guest does not run here.
TEST(CommitTest, ACommitCutShortEndsTheWaitAtItsDeadline) {
  const std::string path = SnapshotFile("partial-commit");
  ASSERT_FALSE(path.empty());
  std::ifstream f(path, std::ios::binary);
  std::vector<char> stream((std::istreambuf_iterator<char>(f)), {});
  std::remove(path.c_str());
  Link link = Connected();
  link.destination.set_io_timeout(absl::Seconds(30));
  std::atomic<bool> done{false};
  std::thread source([&] {
    ASSERT_TRUE(link.source.Write(stream.data(), stream.size()).ok());
    RecordHeader ack;
    ASSERT_TRUE(link.source.ReadExact(&ack, sizeof(ack)).ok());
    const RecordHeader commit = MakeHeader(RecordType::kCommit, 0, 0, 0, 0);
    ASSERT_TRUE(link.source.Write(&commit, sizeof(commit) / 2).ok());  // then stalls, connection open
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  PlainTarget dst(Layout());
  Receiver receiver(dst, link.destination);
  ASSERT_TRUE(receiver.Run().ok());
  ASSERT_TRUE(receiver.SendAck().ok());
  absl::Status st = receiver.AwaitCommit(absl::Milliseconds(kShortTimeoutMs));
  done = true;
  source.join();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(std::string(st.message()), "the guest does not run here")) << st;
  EXPECT_TRUE(Contains(std::string(st.message()), "deadline passed in the middle of a record")) << st;
}

TEST(CommitTest, FilesNeedNoCommit) {
  const std::string path = SnapshotFile("file-commit");
  ASSERT_FALSE(path.empty());
  absl::StatusOr<Channel> in = Channel::OpenFile(path);
  ASSERT_TRUE(in.ok());
  PlainTarget dst(Layout());
  Receiver receiver(dst, *in);
  EXPECT_TRUE(receiver.Run().ok());
  EXPECT_TRUE(receiver.AwaitCommit(absl::Milliseconds(1)).ok());
  std::remove(path.c_str());
}

TEST(CommitTest, LiveStreamWithoutExplicitCommitIsRefused) {
  Link link = Connected();
  Preamble old = MakePreamble();
  old.version = 2;
  ASSERT_TRUE(link.source.Write(&old, sizeof(old)).ok());
  PlainTarget dst(Layout());
  absl::Status st = Receiver(dst, link.destination).Run().status();
  EXPECT_TRUE(Contains(std::string(st.message()), "version 2, which has no explicit commit")) << st;
}

// A cancel before END stops the migration and the guest runs on here: in
// the live rounds (never paused) and in stop-and-copy (paused, resumed).
class CancelTest : public ::testing::TestWithParam<bool> {};

TEST_P(CancelTest, CancelBeforeEndResumesTheSource) {
  const bool while_paused = GetParam();
  PlainSource src(Layout());
  FillSome(src);
  CancelSwitch cancel;
  std::optional<CancelSwitch::CancelResult> result;
  src.on_sync = [&](int) {
    if (!result && src.paused == while_paused) result = cancel.Cancel();
  };
  PlainTarget dst(Layout());
  absl::Status received = absl::OkStatus();
  Outcome out = Migrate(
      src, dst, [&](Receiver& r, PlainTarget&, Channel&) { received = r.Run().status(); }, {}, &cancel);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, CancelSwitch::CancelResult::kCancelled);
  ExpectGuestRunsHereAgain(out, src, while_paused ? 1 : 0);
  EXPECT_EQ(out.stats.phase, kPhaseCancelled);
  EXPECT_FALSE(received.ok());  // the destination saw the connection end mid-stream
  EXPECT_EQ(cancel.Cancel(), CancelSwitch::CancelResult::kNotRunning);  // disarmed at the end
}

INSTANTIATE_TEST_SUITE_P(When, CancelTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "StopAndCopy" : "Precopy"; });

// A destination that stops reading during round 1 (here: after the
// preamble): the write that finds no room within the peer timeout fails,
// and the guest, never paused, runs on.
TEST(CommitTest, StalledDestinationInRoundOneFailsAndTheSourceRunsOn) {
  PlainSource src(Layout());
  for (memory::Gpa gpa = 0; gpa < (8 << 20); gpa += kPage) src.FillPage(gpa, 0x6b);  // more than the socket holds
  PlainTarget dst(Layout());
  Outcome out = Migrate(
      src, dst,
      [&](Receiver&, PlainTarget&, Channel& ch) {
        Preamble p;
        ASSERT_TRUE(ch.ReadExact(&p, sizeof(p)).ok());  // then never reads again
      },
      {.peer_timeout_ms = kShortTimeoutMs});
  ExpectGuestRunsHereAgain(out, src, 0);
  EXPECT_EQ(out.stats.phase, kPhaseFailed);
  EXPECT_EQ(out.stats.round, 1u);
  EXPECT_TRUE(Contains(out.stats.error, "made no progress")) << out.stats.error;
}

// A destination that reads every round but never answers ROUND_SYNC: the
// source gives up before it pauses the guest.
TEST(CommitTest, MissingRoundSyncFailsBeforeThePause) {
  PlainSource src(Layout());
  FillSome(src);
  PlainTarget dst(Layout());
  Outcome out = Migrate(
      src, dst,
      [&](Receiver&, PlainTarget&, Channel& ch) {
        // Swallow the stream without answering anything.
        std::vector<uint8_t> sink(1 << 16);
        // (The channel's socket is non-blocking: wait for each read.)
        while (true) {
          pollfd readable{.fd = ch.fd(), .events = POLLIN};
          if (::poll(&readable, 1, 5000) <= 0) break;
          ssize_t n = ::read(ch.fd(), sink.data(), sink.size());
          if (n <= 0) break;
        }
      },
      {.peer_timeout_ms = kShortTimeoutMs});
  ExpectGuestRunsHereAgain(out, src, 0);
  EXPECT_TRUE(Contains(out.stats.error, "round sync")) << out.stats.error;
}

}  // namespace
}  // namespace migration
