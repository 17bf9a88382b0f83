// SPDX-License-Identifier: MIT
#include "devices/balloon/hugepage_discard_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace devices {
namespace {

constexpr uint64_t kHuge = 2ull << 20;
constexpr uint64_t kPer = 512;  // 4 KiB pages per huge page

TEST(HugePageDiscardTracker, WithSmallPagesEveryRangeGoesBackAsItArrives) {
  HugePageDiscardTracker t(4096);
  PageBitmap b(4096);
  EXPECT_EQ(t.Inflate(b, {10, 3}), (std::vector<PfnRange>{{10, 3}}));
  EXPECT_TRUE(b.AllSet(10, 3));
  EXPECT_EQ(t.WholeHostPagesWithin({7, 5}), (std::vector<PfnRange>{{7, 5}}));
  EXPECT_EQ(t.PagesWaitingForTheirHugePage(b), 0u);
}

// The core property, in several orders: a huge page goes back exactly when
// its last 4 KiB page arrives, never before, and only once.
TEST(HugePageDiscardTracker, HugePageGoesBackExactlyWhenItsLastPageArrivesInAnyOrder) {
  HugePageDiscardTracker t(kHuge);
  for (unsigned seed = 0; seed < 8; ++seed) {
    PageBitmap b(4 * kPer);
    std::vector<uint64_t> pages(kPer);
    std::iota(pages.begin(), pages.end(), 2 * kPer);  // the third huge page
    if (seed == 1) std::reverse(pages.begin(), pages.end());
    if (seed > 1) std::shuffle(pages.begin(), pages.end(), std::mt19937(seed));
    for (size_t i = 0; i < pages.size(); ++i) {
      std::vector<PfnRange> now = t.Inflate(b, {pages[i], 1});
      if (i + 1 < pages.size()) {
        ASSERT_TRUE(now.empty()) << "seed " << seed << " page " << i;
        EXPECT_EQ(t.PagesWaitingForTheirHugePage(b), i + 1);
      } else {
        EXPECT_EQ(now, (std::vector<PfnRange>{{2 * kPer, kPer}})) << "seed " << seed;
      }
    }
    EXPECT_EQ(t.PagesWaitingForTheirHugePage(b), 0u);
    // Named again: already given back, nothing more to do.
    EXPECT_TRUE(t.Inflate(b, {2 * kPer + 7, 1}).empty());
    EXPECT_TRUE(t.Inflate(b, {2 * kPer, kPer}).empty());
  }
}

TEST(HugePageDiscardTracker, RangesCompleteEveryHugePageTheyFillAndMergeAdjacentOnes) {
  HugePageDiscardTracker t(kHuge);
  PageBitmap b(8 * kPer);
  // [0.5, 3.5) huge pages: 1 and 2 are complete, 0 and 3 half.
  EXPECT_EQ(t.Inflate(b, {kPer / 2, 3 * kPer}), (std::vector<PfnRange>{{kPer, 2 * kPer}}));
  EXPECT_EQ(t.PagesWaitingForTheirHugePage(b), kPer);
  // The missing halves complete 0 and 3 (not adjacent: two runs).
  EXPECT_EQ(t.Inflate(b, {0, kPer / 2}), (std::vector<PfnRange>{{0, kPer}}));
  EXPECT_EQ(t.Inflate(b, {3 * kPer + kPer / 2, kPer / 2}), (std::vector<PfnRange>{{3 * kPer, kPer}}));
  // Four huge pages in one aligned range: one run, one discard.
  EXPECT_EQ(t.Inflate(b, {4 * kPer, 4 * kPer}), (std::vector<PfnRange>{{4 * kPer, 4 * kPer}}));
}

TEST(HugePageDiscardTracker, TrackingSurvivesSaveAndRestoreOfTheBitmap) {
  HugePageDiscardTracker t(kHuge);
  std::vector<uint64_t> pages(kPer);
  std::iota(pages.begin(), pages.end(), kPer);
  std::shuffle(pages.begin(), pages.end(), std::mt19937(42));
  PageBitmap before(2 * kPer);
  for (size_t i = 0; i < kPer / 2; ++i) ASSERT_TRUE(t.Inflate(before, {pages[i], 1}).empty());
  // What migration and snapshots carry: the words.
  PageBitmap after(2 * kPer);
  ASSERT_TRUE(after.Assign(before.words()));
  HugePageDiscardTracker restored(kHuge);
  EXPECT_EQ(restored.PagesWaitingForTheirHugePage(after), kPer / 2);
  for (size_t i = kPer / 2; i + 1 < kPer; ++i) ASSERT_TRUE(restored.Inflate(after, {pages[i], 1}).empty());
  EXPECT_EQ(restored.Inflate(after, {pages.back(), 1}), (std::vector<PfnRange>{{kPer, kPer}}));
}

TEST(HugePageDiscardTracker, DeflatedPartOfAGivenBackHugePageCompletesItAgainWhenReinflated) {
  HugePageDiscardTracker t(kHuge);
  PageBitmap b(kPer);
  ASSERT_EQ(t.Inflate(b, {0, kPer}).size(), 1u);
  b.Clear(5, 2);  // deflate: nothing to discard, the page is gone already
  EXPECT_EQ(t.PagesWaitingForTheirHugePage(b), kPer - 2);
  EXPECT_TRUE(t.Inflate(b, {5, 1}).empty());
  // The guest touched page 5 and 6 meanwhile (backed again): the huge page
  // must go back again when it is whole.
  EXPECT_EQ(t.Inflate(b, {6, 1}), (std::vector<PfnRange>{{0, kPer}}));
}

TEST(HugePageDiscardTracker, ReportedRangesGiveBackOnlyWholeHugePages) {
  HugePageDiscardTracker t(kHuge);
  EXPECT_TRUE(t.WholeHostPagesWithin({1, kPer}).empty());
  EXPECT_EQ(t.WholeHostPagesWithin({kPer, kPer}), (std::vector<PfnRange>{{kPer, kPer}}));
  EXPECT_EQ(t.WholeHostPagesWithin({kPer - 1, 2 * kPer + 2}), (std::vector<PfnRange>{{kPer, 2 * kPer}}));
}

}  // namespace
}  // namespace devices
