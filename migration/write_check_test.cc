// SPDX-License-Identifier: MIT
// WriteCheck on plain guest memory: writes made through a Slice bypass the
// VMM's dirty tracking, which is what the PVM check exists to catch.
#include "migration/write_check.h"

#include <vector>

#include "gtest/gtest.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;
constexpr uint64_t kPages = 64;

class WriteCheckTest : public ::testing::Test {
 protected:
  WriteCheckTest() : mem_(*memory::GuestMemory::Create({{0, kPages * kPage}})), check_(mem_) {}

  // Writes page `page` (filled with `value`) and records it as sent.
  void Sent(uint64_t page, uint8_t value) {
    std::vector<uint8_t> data(kPage, value);
    ASSERT_TRUE(mem_.WriteBytes(page * kPage, data).ok());
    check_.RecordSent(0, page, data.data(), false);
  }
  // A write the tracking does not see.
  void Untracked(uint64_t page, uint8_t value) { (*mem_.Slice(page * kPage, 1))[0] = value; }
  // One live check; `logged`: the pages the next sync reports.
  std::vector<PageSet> Check(const std::vector<uint64_t>& logged = {}) {
    std::vector<PageSet> next = {PageSet(kPages)};
    auto take_dirty = [&]() -> absl::StatusOr<std::vector<PageSet>> {
      PageSet set(kPages);
      for (uint64_t p : logged) set.Set(p, p + 1);
      return std::vector<PageSet>{set};
    };
    EXPECT_TRUE(check_.LiveCheck(next, WriteCheck::HintedPages::kNone, 1, take_dirty).ok());
    return next;
  }

  memory::GuestMemory mem_;
  WriteCheck check_;
};

TEST_F(WriteCheckTest, LoggedChangesAreNotMissesButAreSent) {
  Sent(3, 0x11);
  Untracked(3, 0x22);
  std::vector<PageSet> next = Check({3});
  EXPECT_TRUE(next[0].Test(3));
  EXPECT_EQ(check_.unlogged_pages(), 0u);
  EXPECT_FALSE(check_.WantsAnotherCheck());
  EXPECT_TRUE(check_.Paused({PageSet(kPages)}).pages.empty());  // nothing ever missed
}

TEST_F(WriteCheckTest, AMissRepeatedOnTheSamePageIsSentAgainWhilePaused) {
  Sent(3, 0x11);
  Sent(4, 0x11);  // unchanged: never in the sets
  Untracked(3, 0x22);
  std::vector<PageSet> next = Check();
  EXPECT_TRUE(next[0].Test(3));
  EXPECT_FALSE(next[0].Test(4));
  EXPECT_EQ(check_.unlogged_pages(), 1u);
  EXPECT_TRUE(check_.WantsAnotherCheck());  // new misses: look once more
  EXPECT_EQ(check_.LastLiveCheckCoverage(), WriteCheck::HintedPages::kAll);
  // Still different from what was recorded, but the same page: no new miss.
  Check();
  EXPECT_EQ(check_.unlogged_pages(), 2u);
  EXPECT_FALSE(check_.WantsAnotherCheck());
  const WriteCheck::PausedPass pass = check_.Paused({PageSet(kPages)});
  EXPECT_FALSE(pass.rescan);
  EXPECT_EQ(pass.bypassed, 1u);
  ASSERT_EQ(pass.pages.size(), 1u);
  EXPECT_EQ(pass.pages[0].Count(), 1u);
  EXPECT_TRUE(pass.pages[0].Test(3));
}

TEST_F(WriteCheckTest, MissesNotYetSeenStableMakeThePausedPassRescan) {
  Sent(3, 0x11);
  Sent(9, 0x11);
  Untracked(3, 0x22);
  Check();  // one check only: whether the misses stay put is unknown
  Untracked(9, 0x33);  // missed after the last check
  PageSet last(kPages);
  last.Set(3, 4);  // already going out in the last round
  const WriteCheck::PausedPass pass = check_.Paused({last});
  EXPECT_TRUE(pass.rescan);
  EXPECT_EQ(pass.bypassed, 0u);
  EXPECT_TRUE(pass.pages[0].Test(9));
  EXPECT_FALSE(pass.pages[0].Test(3));  // excluded: in `last`
  EXPECT_EQ(check_.unlogged_pages(), 2u);
}

TEST_F(WriteCheckTest, ANeverSentPageCountsOnlyOnceItHoldsData) {
  // Page 7 was never sent: zero is what the destination has, so a populated
  // zero page is no change, data is.
  std::vector<uint8_t> zero(kPage, 0);
  ASSERT_TRUE(mem_.WriteBytes(7 * kPage, zero).ok());
  EXPECT_FALSE(Check()[0].Test(7));
  Untracked(7, 0x44);
  EXPECT_TRUE(Check()[0].Test(7));
  EXPECT_EQ(check_.unlogged_pages(), 1u);
}

}  // namespace
}  // namespace migration
