// SPDX-License-Identifier: MIT
#include "migration/precopy_policy.h"

#include "gtest/gtest.h"

namespace migration {
namespace {

TEST(ConvergenceTest, StopsWhenTheRestFitsTheDowntimeOrRoundsRunOut) {
  // 1 MiB at 1 GiB/s is ~1 ms; the last round sent as much (not shrinking).
  EXPECT_TRUE(ShouldStopAndCopy(1 << 20, 1 << 20, 1 << 30, 30, 1, 30));
  EXPECT_FALSE(ShouldStopAndCopy(100 << 20, 100 << 20, 1 << 30, 30, 1, 30));  // ~98 ms
  EXPECT_TRUE(ShouldStopAndCopy(100 << 20, 100 << 20, 1 << 30, 30, 30, 30));
  EXPECT_FALSE(ShouldStopAndCopy(1 << 20, 1 << 20, 0, 30, 1, 30));  // no rate measured
  EXPECT_TRUE(ShouldStopAndCopy(0, 1 << 30, 0, 30, 1, 30));
  EXPECT_NEAR(ExpectedDowntimeMs(1 << 30, 1 << 30), 1000.0, 1e-9);
}

TEST(ConvergenceTest, KeepsGoingWhileRoundsStillShrinkTheSet) {
  // An idle guest: 512 MiB went out, 4 MiB came back dirty. It fits the
  // target, but one more live round leaves far less for the pause.
  EXPECT_FALSE(ShouldStopAndCopy(4 << 20, 512 << 20, 1 << 30, 30, 1, 30));
  // Small enough to send while paused at once.
  EXPECT_TRUE(ShouldStopAndCopy(kSmallFinalSetBytes, 4 << 20, 1 << 30, 30, 2, 30));
  // A guest that dirties as fast as rounds go: the set stopped halving.
  EXPECT_TRUE(ShouldStopAndCopy(3 << 20, 4 << 20, 1 << 30, 30, 3, 30));
  // Still shrinking, but the rounds are used up.
  EXPECT_TRUE(ShouldStopAndCopy(4 << 20, 512 << 20, 1 << 30, 30, 5, 5));
}

TEST(PrecopyPolicyTest, AssumesAFastLinkUntilARoundMeasuresOne) {
  PrecopyPolicy policy(/*downtime_target_ms=*/30, /*max_rounds=*/30);
  EXPECT_EQ(policy.measured_rate_bytes_per_s(), 0);
  // 4 MiB left after a 4 MiB round: at the assumed rate it fits the target
  // and the set did not shrink, so stop.
  PrecopyPolicy::Verdict v = policy.AfterRound(4 << 20, 4 << 20, 1);
  EXPECT_TRUE(v.stop);
  EXPECT_NEAR(v.expected_downtime_ms, ExpectedDowntimeMs(4 << 20, PrecopyPolicy::kAssumedRateBytesPerS), 1e-9);

  // A round too small to measure the link leaves the assumption alone.
  policy.RoundSent(64 << 10, 0.5);
  EXPECT_EQ(policy.measured_rate_bytes_per_s(), 0);
  policy.RoundSent(8 << 20, 0);  // no time measured
  EXPECT_EQ(policy.measured_rate_bytes_per_s(), 0);

  // A slow link measured: the same 4 MiB now takes 400 ms, over the target.
  policy.RoundSent(10 << 20, 1.0);
  EXPECT_DOUBLE_EQ(policy.measured_rate_bytes_per_s(), double(10 << 20));
  v = policy.AfterRound(4 << 20, 4 << 20, 2);
  EXPECT_FALSE(v.stop);
  EXPECT_NEAR(v.expected_downtime_ms, 400.0, 1e-9);
}

TEST(PrecopyPolicyTest, HalvingKeepsGoingAboveTheFloorOnly) {
  PrecopyPolicy policy(30, 30);
  policy.RoundSent(1ull << 30, 1.0);
  // Halved and above 256 KiB: one more round.
  EXPECT_FALSE(policy.AfterRound(kSmallFinalSetBytes * 2, kSmallFinalSetBytes * 4, 2).stop);
  // Halved but at the floor: stop.
  EXPECT_TRUE(policy.AfterRound(kSmallFinalSetBytes, kSmallFinalSetBytes * 4, 2).stop);
  // Nothing left: stop.
  EXPECT_TRUE(policy.AfterRound(0, 1 << 20, 2).stop);
}

TEST(PrecopyPolicyTest, MaxRoundsEndsEvenAnUnfinishedMigration) {
  PrecopyPolicy policy(30, 3);
  policy.RoundSent(1 << 20, 1.0);  // 1 MiB/s: 100 MiB would take 100 s
  EXPECT_FALSE(policy.AfterRound(100 << 20, 100 << 20, 2).stop);
  EXPECT_TRUE(policy.AfterRound(100 << 20, 100 << 20, 3).stop);
}

TEST(PrecopyPolicyTest, AnotherCheckIsGrantedWhileRoundsAreLeft) {
  PrecopyPolicy policy(30, 5);
  policy.RoundSent(1ull << 30, 1.0);
  // Would stop (tiny and not shrinking), but the write check asks for one
  // more round and check.
  EXPECT_TRUE(policy.AfterRound(64 << 10, 64 << 10, 2).stop);
  EXPECT_FALSE(policy.AfterRound(64 << 10, 64 << 10, 2, /*another_check=*/true).stop);
  // Not past the last round, though.
  EXPECT_TRUE(policy.AfterRound(64 << 10, 64 << 10, 5, /*another_check=*/true).stop);
}

}  // namespace
}  // namespace migration
