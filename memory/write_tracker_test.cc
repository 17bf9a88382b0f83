// SPDX-License-Identifier: MIT
#include "memory/write_tracker.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/scoped_mmap.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "memory/layout.h"

namespace memory {
namespace {

constexpr uint64_t kPages = 64;

std::vector<uint64_t> Pages(const std::vector<uint64_t>& bits) {
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < bits.size() * 64; ++p) {
    if (bits[p / 64] >> (p % 64) & 1) out.push_back(p);
  }
  return out;
}

// A host without the tracker's kernel features (PAGEMAP_SCAN, Linux 6.7+)
// skips these tests, except under CI=true on a PVM host, where migration
// relies on the tracker: there a CI run must not go green without it.
bool TrackerRequiredHere() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true" && ::access("/sys/module/kvm_pvm", F_OK) == 0;
}

#define SKIP_OR_FAIL_WITHOUT_TRACKER(status)                                            \
  do {                                                                                  \
    if (absl::IsUnimplemented(status)) {                                                \
      if (TrackerRequiredHere()) FAIL() << "PVM host without write tracking: " << (status); \
      GTEST_SKIP() << (status);                                                         \
    }                                                                                   \
  } while (0)

// Guest RAM is a shared memfd mapping; the tracker must work on exactly that.
class WriteTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memfd_ = base::UniqueFd(::memfd_create("write-tracker-test", MFD_CLOEXEC));
    ASSERT_TRUE(memfd_.valid());
    ASSERT_EQ(::ftruncate(memfd_.get(), kPages * kPageSize), 0);
    auto m = base::ScopedMmap::Map(kPages * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0);
    ASSERT_TRUE(m.ok()) << m.status();
    map_ = std::move(*m);
    // Some pages populated before tracking starts, others never touched.
    for (uint64_t p = 0; p < kPages; p += 2) map_.data()[p * kPageSize] = 1;
    auto t = WriteTracker::Start(map_.data(), kPages * kPageSize);
    SKIP_OR_FAIL_WITHOUT_TRACKER(t.status());
    ASSERT_TRUE(t.ok()) << t.status();
    tracker_ = std::move(*t);
  }
  std::vector<uint64_t> Take() {
    std::vector<uint64_t> bits;
    absl::Status st = tracker_->TakeWritten(map_.data(), kPages * kPageSize, bits);
    EXPECT_TRUE(st.ok()) << st;
    return Pages(bits);
  }

  base::UniqueFd memfd_;
  base::ScopedMmap map_;
  std::unique_ptr<WriteTracker> tracker_;
};

TEST_F(WriteTrackerTest, NothingWrittenNothingReported) {
  volatile uint8_t sink = 0;
  for (uint64_t p = 0; p < kPages; ++p) sink = sink + map_.data()[p * kPageSize];  // reads are not writes
  EXPECT_EQ(Take(), std::vector<uint64_t>{});
}

TEST_F(WriteTrackerTest, ReportsWrittenPagesOnceAndProtectsThemAgain) {
  map_.data()[4 * kPageSize + 100] = 7;   // populated before Start
  map_.data()[9 * kPageSize] = 7;         // never populated before
  map_.data()[63 * kPageSize + 4095] = 7;
  EXPECT_EQ(Take(), (std::vector<uint64_t>{4, 9, 63}));
  EXPECT_EQ(Take(), std::vector<uint64_t>{});
  map_.data()[9 * kPageSize + 1] = 8;  // protected again: seen again
  EXPECT_EQ(Take(), std::vector<uint64_t>{9});
}

TEST_F(WriteTrackerTest, SeesWritesTheKernelMakesThroughTheMapping) {
  // KVM and the host kernel write guest RAM through the VMM's mapping, as
  // read() into it does here.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  base::UniqueFd rd(pipe_fds[0]), wr(pipe_fds[1]);
  const char text[] = "written by the kernel";
  ASSERT_EQ(::write(wr.get(), text, sizeof(text)), static_cast<ssize_t>(sizeof(text)));
  ASSERT_EQ(::read(rd.get(), map_.data() + 17 * kPageSize, sizeof(text)), static_cast<ssize_t>(sizeof(text)));
  EXPECT_EQ(std::memcmp(map_.data() + 17 * kPageSize, text, sizeof(text)), 0);
  EXPECT_EQ(Take(), std::vector<uint64_t>{17});
}

TEST_F(WriteTrackerTest, SeesWritesThroughPinnedPagesLikeKvms) {
  // KVM writes guest RAM the way process_vm_writev does: it looks the page
  // up with get_user_pages(FOLL_WRITE) in the VMM's page tables and writes
  // through the kernel's own mapping. The lookup is what the tracking sees.
  uint64_t value = 0x1122334455667788;
  iovec local{&value, sizeof(value)};
  iovec remote{map_.data() + 41 * kPageSize + 8, sizeof(value)};
  ASSERT_EQ(::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0), static_cast<ssize_t>(sizeof(value)));
  EXPECT_EQ(std::memcmp(map_.data() + 41 * kPageSize + 8, &value, sizeof(value)), 0);
  EXPECT_EQ(Take(), std::vector<uint64_t>{41});
}

TEST_F(WriteTrackerTest, SubrangeTakeCountsFromItsStartAndRangeIsChecked) {
  map_.data()[40 * kPageSize] = 1;
  map_.data()[2 * kPageSize] = 1;
  std::vector<uint64_t> bits;
  ASSERT_TRUE(tracker_->TakeWritten(map_.data() + 32 * kPageSize, 32 * kPageSize, bits).ok());
  EXPECT_EQ(Pages(bits), std::vector<uint64_t>{8});
  EXPECT_EQ(Take(), std::vector<uint64_t>{2});  // the other page is still pending
  std::vector<uint64_t> out;
  EXPECT_TRUE(absl::IsOutOfRange(tracker_->TakeWritten(map_.data() + kPageSize, kPages * kPageSize, out)));
}

TEST(WriteTrackerLargeRangeTest, ATakeSplitAcrossThreadsReportsEveryWrittenPageOnce) {
  // Takes of large ranges are split into 64 MiB chunks walked by several
  // threads: writes on both sides of each chunk border, a run across one and
  // a page in a short last chunk all come back, each once, and nothing else.
  constexpr uint64_t kChunkPages = (64ull << 20) / kPageSize;
  constexpr uint64_t kBigPages = 4 * kChunkPages + 37;
  base::UniqueFd memfd(::memfd_create("write-tracker-large", MFD_CLOEXEC));
  ASSERT_TRUE(memfd.valid());
  ASSERT_EQ(::ftruncate(memfd.get(), kBigPages * kPageSize), 0);
  auto m = base::ScopedMmap::Map(kBigPages * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  ASSERT_TRUE(m.ok()) << m.status();
  auto t = WriteTracker::Start(m->data(), kBigPages * kPageSize);
  SKIP_OR_FAIL_WITHOUT_TRACKER(t.status());
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<uint64_t> expected;
  for (uint64_t c = 1; c <= 4; ++c) {
    expected.push_back(c * kChunkPages - 1);
    expected.push_back(c * kChunkPages);
  }
  for (uint64_t p = 2 * kChunkPages + 100; p < 2 * kChunkPages + 110; ++p) expected.push_back(p);
  for (uint64_t p = 3 * kChunkPages - 5; p < 3 * kChunkPages + 5; ++p) expected.push_back(p);
  expected.push_back(kBigPages - 1);
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  for (uint64_t p : expected) m->data()[p * kPageSize + 1] = 9;
  std::vector<uint64_t> bits;
  ASSERT_TRUE((*t)->TakeWritten(m->data(), kBigPages * kPageSize, bits).ok());
  EXPECT_EQ(Pages(bits), expected);
  std::vector<uint64_t> again;
  ASSERT_TRUE((*t)->TakeWritten(m->data(), kBigPages * kPageSize, again).ok());
  EXPECT_EQ(Pages(again), std::vector<uint64_t>{});
}

TEST_F(WriteTrackerTest, WritesWorkAfterTrackingEnds) {
  tracker_.reset();
  for (uint64_t p = 0; p < kPages; ++p) map_.data()[p * kPageSize] = 3;
  EXPECT_EQ(map_.data()[5 * kPageSize], 3);
}

}  // namespace
}  // namespace memory
