// SPDX-License-Identifier: MIT
#include "devices/balloon/balloon_stats.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace devices {
namespace {

std::vector<uint8_t> Records(std::initializer_list<std::pair<uint16_t, uint64_t>> stats) {
  std::vector<uint8_t> out;
  for (auto [tag, value] : stats) {
    uint8_t rec[10];
    std::memcpy(rec, &tag, 2);
    std::memcpy(rec + 2, &value, 8);
    out.insert(out.end(), rec, rec + 10);
  }
  return out;
}

TEST(BalloonStats, DescriptionsAreIndexedByTag) {
  auto all = StatDescriptions();
  ASSERT_EQ(all.size(), size_t{VIRTIO_BALLOON_S_NR});
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].tag, i);
  EXPECT_EQ(all[VIRTIO_BALLOON_S_MEMFREE].name, "free_memory");
  EXPECT_EQ(all[VIRTIO_BALLOON_S_MEMFREE].unit, "bytes");
  EXPECT_EQ(all[VIRTIO_BALLOON_S_MAJFLT].unit, "count");
  EXPECT_EQ(all[VIRTIO_BALLOON_S_HTLB_PGFAIL].name, "hugetlb_failures");
}

TEST(BalloonStats, ParsesKnownSkipsUnknownAndPartial) {
  std::vector<uint8_t> bytes = Records({{VIRTIO_BALLOON_S_MEMFREE, 123456789},
                                        {77, 5},
                                        {VIRTIO_BALLOON_S_MEMTOT, 1ull << 33}});
  bytes.push_back(1);  // a partial record
  BalloonStats stats;
  EXPECT_EQ(ParseStats(bytes, stats), 2u);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMFREE), 123456789u);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMTOT), 1ull << 33);
  EXPECT_FALSE(stats.Get(VIRTIO_BALLOON_S_SWAP_IN).has_value());
  EXPECT_FALSE(stats.Get(77).has_value());
  EXPECT_EQ(stats.updates, 1u);
  // A later update replaces values and keeps the others.
  ParseStats(Records({{VIRTIO_BALLOON_S_MEMFREE, 1}}), stats);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMFREE), 1u);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMTOT), 1ull << 33);
}

}  // namespace
}  // namespace devices
