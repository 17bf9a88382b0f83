// SPDX-License-Identifier: MIT
#include "devices/balloon/page_bitmap.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace devices {
namespace {

TEST(PageBitmap, SetClearTestAndCount) {
  PageBitmap bm(200);
  bm.Set(10, 100);
  EXPECT_EQ(bm.CountSet(), 100u);
  EXPECT_TRUE(bm.Test(10));
  EXPECT_TRUE(bm.Test(109));
  EXPECT_FALSE(bm.Test(110));
  bm.Clear(50, 10);
  EXPECT_EQ(bm.CountSet(), 90u);
  EXPECT_EQ(bm.Ranges(), (std::vector<PfnRange>{{10, 40}, {60, 50}}));
  bm.Set(190, 100);  // clipped at 200
  EXPECT_EQ(bm.CountSet(), 100u);
  bm.Set(500, 1);  // beyond: ignored
  EXPECT_FALSE(bm.Test(500));
  bm.ClearAll();
  EXPECT_EQ(bm.CountSet(), 0u);
  EXPECT_TRUE(bm.Ranges().empty());
}

TEST(PageBitmap, RandomizedAgainstVectorOfBool) {
  std::mt19937 rng(3);
  PageBitmap bm(1000);
  std::vector<bool> ref(1000);
  for (int i = 0; i < 2000; ++i) {
    uint64_t first = rng() % 1000, count = rng() % 150;
    bool value = rng() % 2;
    value ? bm.Set(first, count) : bm.Clear(first, count);
    for (uint64_t p = first; p < std::min<uint64_t>(1000, first + count); ++p) ref[p] = value;
  }
  uint64_t set = 0;
  for (uint64_t p = 0; p < 1000; ++p) {
    ASSERT_EQ(bm.Test(p), ref[p]) << p;
    set += ref[p];
  }
  EXPECT_EQ(bm.CountSet(), set);
  uint64_t from_ranges = 0;
  for (const PfnRange& r : bm.Ranges()) from_ranges += r.count;
  EXPECT_EQ(from_ranges, set);
}

}  // namespace
}  // namespace devices
