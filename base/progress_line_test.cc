// SPDX-License-Identifier: MIT
#include "base/progress_line.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace base {
namespace {

TEST(ProgressBar, FillsInProportionAndIsFullOnlyAtTheEnd) {
  EXPECT_EQ(ProgressBar(0, 100, 10), "[..........]");
  EXPECT_EQ(ProgressBar(50, 100, 10), "[#####.....]");
  EXPECT_EQ(ProgressBar(99, 100, 10), "[#########.]");   // 9.9 rounds down
  EXPECT_EQ(ProgressBar(999, 1000, 4), "[###.]");        // never full before the end
  EXPECT_EQ(ProgressBar(100, 100, 10), "[##########]");
}

TEST(ProgressBar, ClampsDoneAboveTotalAndHandlesNothingToDo) {
  EXPECT_EQ(ProgressBar(250, 100, 10), "[##########]");
  EXPECT_EQ(ProgressBar(5, 0, 4), "[....]");
  EXPECT_EQ(ProgressBar(0, 0, 0), "[.]");
}

TEST(ProgressBar, LargeTotalsDoNotOverflow) {
  const uint64_t total = ~0ull - 1;
  EXPECT_EQ(ProgressBar(total / 2, total, 10), "[#####.....]");
  EXPECT_EQ(ProgressBar(total, total, 10), "[##########]");
}

TEST(SecondsLeft, UnknownWithoutARateAndZeroWhenDone) {
  EXPECT_EQ(SecondsLeft(0, 100, 0), std::nullopt);
  EXPECT_EQ(SecondsLeft(0, 100, -5), std::nullopt);
  EXPECT_EQ(SecondsLeft(0, 100, std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(SecondsLeft(0, 100, std::nan("")), std::nullopt);
  EXPECT_EQ(SecondsLeft(100, 100, 0), 0.0);
  EXPECT_EQ(SecondsLeft(150, 100, 10), 0.0);  // a total that was short
  EXPECT_DOUBLE_EQ(*SecondsLeft(40, 100, 20), 3.0);
}

TEST(FormatDuration, RoundsUpAndPicksTheUnits) {
  EXPECT_EQ(FormatDuration(0), "0 s");
  EXPECT_EQ(FormatDuration(0.2), "1 s");  // never "nothing left" before the end
  EXPECT_EQ(FormatDuration(59), "59 s");
  EXPECT_EQ(FormatDuration(59.5), "1 min 00 s");
  EXPECT_EQ(FormatDuration(60), "1 min 00 s");
  EXPECT_EQ(FormatDuration(185), "3 min 05 s");
  EXPECT_EQ(FormatDuration(7800), "2 h 10 min");
  EXPECT_EQ(FormatDuration(-3), "0 s");
  EXPECT_EQ(FormatDuration(1e300), "2400 h 00 min");  // clamped, not overflowed
}

TEST(TransferText, DoneTotalPercentRateAndTimeLeft) {
  constexpr uint64_t kMib = 1 << 20;
  EXPECT_EQ(TransferText(400 * kMib, 1000 * kMib, 50.0 * kMib), "400.0 of 1000.0 MiB (40%), 50 MiB/s, 12 s left");
  EXPECT_EQ(TransferText(999, 1000, 1), "0.0 of 0.0 MiB (99%), 0 MiB/s, 1 s left");  // 99.9% is not 100%
  EXPECT_EQ(TransferText(0, 10 * kMib, 0), "0.0 of 10.0 MiB (0%), 0 MiB/s, ? left");
  EXPECT_EQ(TransferText(10 * kMib, 10 * kMib, 0), "10.0 of 10.0 MiB (100%), 0 MiB/s, 0 s left");
}

TEST(RecentRate, NoRateUntilHalfASecondIsCovered) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  RecentRate rate;
  EXPECT_EQ(rate.PerSecond(), 0);
  rate.Add(t0, 0);
  rate.Add(t0 + absl::Milliseconds(100), 50 << 20);  // a first burst
  EXPECT_EQ(rate.PerSecond(), 0);
  rate.Add(t0 + absl::Milliseconds(500), 100 << 20);
  EXPECT_DOUBLE_EQ(rate.PerSecond(), 200.0 * (1 << 20));
}

TEST(RecentRate, FollowsTheLastWindowNotTheWholeTransfer) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  RecentRate rate(absl::Seconds(2));
  // Ten idle seconds (the source waiting for the guest), then 100 bytes a
  // second: an average since the start would say 33.
  rate.Add(t0, 0);
  for (int s = 10; s <= 15; ++s) rate.Add(t0 + absl::Seconds(s), static_cast<uint64_t>(s - 10) * 100);
  EXPECT_DOUBLE_EQ(rate.PerSecond(), 100);
  // It stops: the rate falls to 0 once the window holds no growth.
  rate.Add(t0 + absl::Seconds(16), 500);
  rate.Add(t0 + absl::Seconds(18), 500);
  EXPECT_DOUBLE_EQ(rate.PerSecond(), 0);
}

TEST(RecentRate, IgnoresCountsThatGoBackAndTimesOutOfOrder) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  RecentRate rate;
  rate.Add(t0, 1000);
  rate.Add(t0 + absl::Seconds(1), 500);       // taken as 1000: no negative rate
  EXPECT_EQ(rate.PerSecond(), 0);
  rate.Add(t0 - absl::Seconds(5), 0);          // before the last: ignored
  rate.Add(t0 + absl::Seconds(2), 3000);
  EXPECT_DOUBLE_EQ(rate.PerSecond(), 1000);
}

std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  return s;
}

TEST(ProgressLine, RedrawsInPlaceWithTheBarAndEndsTheLineOnce) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressLine line(f, ProgressStyle::kTerminal);
    line.Show(0, 2, "one");
    line.Show(2, 2, "two");
    line.Finish();
    line.Finish();  // nothing drawn since: no second newline
  }  // nor from the destructor
  EXPECT_EQ(Contents(f), "\r\033[K" + ProgressBar(0, 2) + " one\r\033[K" + ProgressBar(2, 2) + " two\n");
  std::fclose(f);
}

TEST(ProgressLine, DestructorEndsAnOpenLine) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  { ProgressLine(f, ProgressStyle::kTerminal).Show(1, 2, "half"); }
  EXPECT_EQ(Contents(f), "\r\033[K" + ProgressBar(1, 2) + " half\n");
  std::fclose(f);
}

TEST(ProgressLine, PlainStyleWritesALineAtMostEveryInterval) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  {
    ProgressLine line(f, ProgressStyle::kPlain, {.plain_interval = absl::Seconds(5), .start = t0});
    line.Show(1, 10, "at 1 s", t0 + absl::Seconds(1));  // work shorter than the interval prints nothing
    line.Show(2, 10, "at 5 s", t0 + absl::Seconds(5));
    line.Show(3, 10, "at 9 s", t0 + absl::Seconds(9));
    line.Show(4, 10, "at 10 s", t0 + absl::Seconds(10));
    line.Show(10, 10, "at 11 s", t0 + absl::Seconds(11));
  }  // no bar, no carriage return, no extra newline at the end
  EXPECT_EQ(Contents(f), "at 5 s\nat 10 s\n");
  std::fclose(f);
}

TEST(ProgressLine, PlainLinesCanGoToTheLog) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  std::vector<std::string> logged;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ProgressLine line(f, ProgressStyle::kPlain,
                    {.plain_interval = absl::Seconds(1),
                     .plain_sink = [&](std::string_view t) { logged.emplace_back(t); },
                     .start = t0});
  line.Show(5, 10, "restore: half", t0 + absl::Seconds(2));
  EXPECT_EQ(logged, std::vector<std::string>{"restore: half"});
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

TEST(ProgressLine, OffShowsNothing) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressLine line(f, ProgressStyle::kOff);
    EXPECT_FALSE(line.active());
    line.Show(1, 2, "invisible", absl::Now() + absl::Hours(1));
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

TEST(ProgressLine, AFileThatIsNotATerminalGetsPlainLines) {
  FILE* f = std::tmpfile();  // a regular file: isatty says no
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(ProgressLine::StyleOf(f), ProgressStyle::kPlain);
  std::fclose(f);
}

}  // namespace
}  // namespace base
