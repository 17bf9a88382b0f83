// SPDX-License-Identifier: MIT
#include "memory/layout.h"

#include <gtest/gtest.h>

namespace memory {
namespace {

TEST(Layout, SmallGuestHasOneLowRegion) {
  auto regions = RamRegionsForSize(512 * kMiB);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].start, 0u);
  EXPECT_EQ(regions[0].length, 512 * kMiB);
}

TEST(Layout, LargeGuestSplitsAroundTheHole) {
  auto regions = RamRegionsForSize(3584 * kMiB);
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].end(), kMmioHoleStart);
  EXPECT_EQ(regions[1].start, 4 * kGiB);
  EXPECT_EQ(regions[0].length + regions[1].length, 3584 * kMiB);
}

TEST(Layout, ExactlyHoleSizedGuestHasNoHighRegion) {
  EXPECT_EQ(RamRegionsForSize(kMmioHoleStart).size(), 1u);
}

TEST(Layout, E820ReservesBiosAreaAndKeepsAllOtherRam) {
  auto map = E820Map(RamRegionsForSize(3584 * kMiB));
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, kEbdaStart);
  EXPECT_EQ(map[1].type, E820Type::kReserved);
  EXPECT_EQ(map[1].addr + map[1].size, kHighMemoryStart);
  EXPECT_EQ(map[2].addr, kHighMemoryStart);
  EXPECT_EQ(map[2].addr + map[2].size, kMmioHoleStart);
  EXPECT_EQ(map[3].addr, 4 * kGiB);
  uint64_t ram = 0;
  for (const auto& e : map) {
    if (e.type == E820Type::kRam) ram += e.size;
  }
  EXPECT_EQ(ram, 3584 * kMiB - (kHighMemoryStart - kEbdaStart));
}

}  // namespace
}  // namespace memory
