// SPDX-License-Identifier: MIT
#include "migration/page_set.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace migration {
namespace {

std::vector<std::pair<uint64_t, uint64_t>> Runs(const PageSet& s) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  s.ForEachRun([&](uint64_t a, uint64_t b) { runs.emplace_back(a, b); });
  return runs;
}

TEST(PageSetTest, RunsAcrossWordBoundariesAndTail) {
  PageSet s(200);
  s.Set(3, 5);
  s.Set(60, 130);
  s.Set(190, 500);  // clipped to 200
  EXPECT_EQ(Runs(s), (std::vector<std::pair<uint64_t, uint64_t>>{{3, 5}, {60, 130}, {190, 200}}));
  EXPECT_EQ(s.Count(), 2u + 70u + 10u);
}

TEST(PageSetTest, SetAllMasksTheTailAndClearCuts) {
  PageSet s(70);
  s.SetAll();
  EXPECT_EQ(s.Count(), 70u);
  s.Clear(10, 64);
  EXPECT_EQ(Runs(s), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 10}, {64, 70}}));
  s.ClearAll();
  EXPECT_TRUE(Runs(s).empty());
}

TEST(PageSetTest, OrMergesKvmStyleBitmapsAndIgnoresBitsBeyondTheEnd) {
  PageSet s(100);
  s.Set(0, 1);
  std::vector<uint64_t> log = {0x6, ~0ull};  // pages 1, 2 and 64..127
  s.Or(log);
  EXPECT_EQ(Runs(s), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 3}, {64, 100}}));
  std::vector<uint64_t> short_log = {1ull << 40};
  s.Or(short_log);
  EXPECT_TRUE(s.Test(40));
}

TEST(PageSetTest, SubtractRemovesSkippedPages) {
  PageSet all(128), skipped(128);
  all.SetAll();
  skipped.Set(10, 20);
  skipped.Set(100, 128);
  all.Subtract(skipped);
  EXPECT_EQ(Runs(all), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 10}, {20, 100}}));
}

TEST(PageSetTest, IntersectKeepsCommonPagesEvenWithAShorterOther) {
  PageSet hinted(200), populated(200), short_set(70);
  hinted.Set(0, 150);
  populated.Set(100, 200);
  hinted.Intersect(populated);
  EXPECT_EQ(Runs(hinted), (std::vector<std::pair<uint64_t, uint64_t>>{{100, 150}}));
  PageSet all(200);
  all.SetAll();
  short_set.Set(60, 70);
  all.Intersect(short_set);  // pages past the shorter set are not in it
  EXPECT_EQ(Runs(all), (std::vector<std::pair<uint64_t, uint64_t>>{{60, 70}}));
}

TEST(PageSetTest, AnyInLooksAtExactlyTheRangeAcrossWords) {
  PageSet set(200);
  EXPECT_FALSE(set.AnyIn(0, 200));
  set.Set(70, 71);
  EXPECT_TRUE(set.AnyIn(0, 200));
  EXPECT_TRUE(set.AnyIn(70, 71));
  EXPECT_TRUE(set.AnyIn(10, 130));
  EXPECT_FALSE(set.AnyIn(0, 70));
  EXPECT_FALSE(set.AnyIn(71, 200));
  EXPECT_FALSE(set.AnyIn(71, 1000));  // clipped, no read past the end
  set.Set(199, 200);
  EXPECT_TRUE(set.AnyIn(150, 1000));
  EXPECT_FALSE(set.AnyIn(200, 1000));
}

TEST(PageSetTest, Sample64KeepsOnePageInEverySixtyFour) {
  PageSet set(200);
  set.Set(0, 200);
  EXPECT_EQ(Runs(set.Sample64(5)), (std::vector<std::pair<uint64_t, uint64_t>>{{5, 6}, {69, 70}, {133, 134}, {197, 198}}));
  set.Clear(69, 70);
  EXPECT_EQ(set.Sample64(69).Count(), 3u);  // 5, 133, 197: the offset is taken mod 64
  EXPECT_EQ(set.Sample64(63).Count(), 3u);  // 63, 127, 191
}

TEST(PageSetTest, HintedPagesReusedAfterHintingAreSentAgain) {
  // The round-1 order: start from all pages, drop hinted ones, then add what
  // KVM logged since logging began; a hinted page the guest wrote since is
  // in the log and must survive.
  PageSet round1(64), hinted(64);
  round1.SetAll();
  hinted.Set(8, 16);
  round1.Subtract(hinted);
  std::vector<uint64_t> log = {1ull << 9};
  round1.Or(log);
  EXPECT_TRUE(round1.Test(9));
  EXPECT_FALSE(round1.Test(10));
  EXPECT_EQ(round1.Count(), 64u - 8u + 1u);
  PageSet dirty(64);
  dirty.Or(log);
  EXPECT_EQ(dirty.CountCommon(hinted), 1u);
}

}  // namespace
}  // namespace migration
