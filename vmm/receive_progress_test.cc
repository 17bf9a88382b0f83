// SPDX-License-Identifier: MIT
#include "vmm/receive_progress.h"

#include "base/progress_line.h"
#include "gtest/gtest.h"

namespace vmm {
namespace {

constexpr uint64_t kMib = 1 << 20;

TEST(IncomingProgressText, NamesTheRoundBeingReceivedTheBytesAndTheRate) {
  EXPECT_EQ(IncomingProgressText("local pid 7 (uid 0)", {.done_bytes = 0}, 0),
            "incoming migration from local pid 7 (uid 0): round 1, 0.0 MiB received, 0 MiB/s");
  EXPECT_EQ(IncomingProgressText("10.0.0.2:41000", {.done_bytes = 412 * kMib + kMib / 2, .rounds = 2}, 210.0 * kMib),
            "incoming migration from 10.0.0.2:41000: round 3, 412.5 MiB received, 210 MiB/s");
}

// Rounds as the source counts them: the paused last pass is one.
TEST(IncomingProgressText, SaysWhenTheMemoryIsInAndWhenItIsDone) {
  EXPECT_EQ(IncomingProgressText("src", {.done_bytes = 8 * kMib, .rounds = 1, .memory_done = true}, kMib),
            "incoming migration from src: memory in after 2 rounds, loading the state, 8.0 MiB received, 1 MiB/s");
  EXPECT_EQ(IncomingProgressText("src", {.done_bytes = 9 * kMib, .rounds = 4, .memory_done = true, .done = true},
                                 3.0 * kMib),
            "incoming migration from src: received in 5 rounds, 9.0 MiB received, 3 MiB/s");
  // No live round at all (a source told to stop and copy at once).
  EXPECT_EQ(IncomingProgressText("src", {.done_bytes = kMib, .memory_done = true, .done = true}, 0),
            "incoming migration from src: received in 1 round, 1.0 MiB received, 0 MiB/s");
}

TEST(IncomingProgressText, ANegativeRateReadsAsNone) {
  EXPECT_EQ(IncomingProgressText("src", {.done_bytes = kMib}, -5),
            "incoming migration from src: round 1, 1.0 MiB received, 0 MiB/s");
}

TEST(IncomingBar, CountsAgainstGuestRamAndIsFullOnlyAtTheEnd) {
  const uint64_t ram = 256 * kMib;
  BarEnds half = IncomingBar({.done_bytes = 128 * kMib}, ram);
  EXPECT_EQ(base::ProgressBar(half.done, half.total, 10), "[#####.....]");
  // Later rounds resend pages: past the RAM size, still not finished.
  BarEnds past = IncomingBar({.done_bytes = 300 * kMib, .rounds = 5}, ram);
  EXPECT_EQ(base::ProgressBar(past.done, past.total, 10), "[#########.]");
  // A guest that was mostly never touched ends far below its RAM size.
  BarEnds done = IncomingBar({.done_bytes = 3 * kMib, .done = true}, ram);
  EXPECT_EQ(base::ProgressBar(done.done, done.total, 10), "[##########]");
  // No RAM size known: an empty bar until the end, never a division by zero.
  BarEnds none = IncomingBar({.done_bytes = 5}, 0);
  EXPECT_EQ(base::ProgressBar(none.done, none.total, 4), "[....]");
}

TEST(RestoreProgress, TextAndARateOnlyAfterHalfASecond) {
  const migration::ReadProgress p{.done_bytes = 400 * kMib, .total_bytes = 1000 * kMib};
  EXPECT_EQ(RestoreProgressText("/var/tmp/vm.snap", p, 50.0 * kMib),
            "restoring /var/tmp/vm.snap: 400.0 of 1000.0 MiB (40%), 50 MiB/s, 12 s left");
  EXPECT_EQ(RestoreRate(p, absl::Milliseconds(100)), 0);
  EXPECT_DOUBLE_EQ(RestoreRate(p, absl::Seconds(8)), 50.0 * kMib);
  // A small file read whole within the first half second still gets one.
  const migration::ReadProgress done{.done_bytes = kMib, .total_bytes = kMib, .done = true};
  EXPECT_DOUBLE_EQ(RestoreRate(done, absl::Milliseconds(250)), 4.0 * kMib);
}

}  // namespace
}  // namespace vmm
