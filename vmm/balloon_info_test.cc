// SPDX-License-Identifier: MIT
#include "vmm/balloon_info.h"

#include <linux/virtio_balloon.h>

#include <gtest/gtest.h>

#include "memory/layout.h"

namespace vmm {
namespace {

TEST(BalloonInfoTest, FeatureNames) {
  EXPECT_TRUE(BalloonFeatureNames(0).empty());
  EXPECT_EQ(BalloonFeatureNames((1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_REPORTING) |
                                (1ull << 32)),
            (std::vector<std::string>{"STATS_VQ", "REPORTING"}));
}

TEST(BalloonInfoTest, DescribesTargetFeaturesAndCounters) {
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create(memory::RamRegionsForSize(64ull << 20));
  ASSERT_TRUE(mem.ok()) << mem.status();
  devices::Balloon balloon(*mem);
  balloon.SetTargetPages(256);
  api::BalloonInfo info = DescribeBalloon(balloon, 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
  EXPECT_EQ(info.target_bytes, 256 * memory::kPageSize);
  EXPECT_EQ(info.actual_bytes, 0u);
  EXPECT_EQ(info.features, std::vector<std::string>{"DEFLATE_ON_OOM"});
  int found = 0;
  for (const auto& [name, value] : info.counters) {
    if (name == "ballooned_pages" || name == "chunk_entries" || name == "chunk_refused") {
      ++found;
      EXPECT_EQ(value, 0u) << name;
    }
  }
  EXPECT_EQ(found, 3);
}

}  // namespace
}  // namespace vmm
