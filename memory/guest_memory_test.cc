// SPDX-License-Identifier: MIT
#include "memory/guest_memory.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

namespace memory {
namespace {

GuestMemory MakeTwoRegions() {
  auto mem = GuestMemory::Create({{0, 16 * kPageSize}, {0x100000, 16 * kPageSize}});
  EXPECT_TRUE(mem.ok()) << mem.status();
  return std::move(*mem);
}

TEST(GuestMemory, ReadsBackWhatWasWritten) {
  GuestMemory mem = MakeTwoRegions();
  ASSERT_TRUE(mem.Write<uint64_t>(0x100008, 0x1122334455667788).ok());
  EXPECT_EQ(*mem.Read<uint64_t>(0x100008), 0x1122334455667788u);
  EXPECT_EQ(mem.TotalSize(), 32 * kPageSize);
}

// Found by fuzz/balloon_fuzzer (a zero-length stats buffer): an empty span
// has a null pointer, which reached memcpy.
TEST(GuestMemory, EmptyAccessesAreCheckedNoOps) {
  GuestMemory mem = MakeTwoRegions();
  EXPECT_TRUE(mem.ReadBytes(0x1000, {}).ok());
  EXPECT_TRUE(mem.WriteBytes(0x1000, {}).ok());
  EXPECT_FALSE(mem.ReadBytes(0x80000, {}).ok());  // in the hole: still refused
  EXPECT_FALSE(mem.WriteBytes(0x80000, {}).ok());
}

TEST(GuestMemory, RejectsAccessOutsideOrAcrossRegions) {
  GuestMemory mem = MakeTwoRegions();
  EXPECT_FALSE(mem.Read<uint32_t>(16 * kPageSize).ok());          // in the gap
  EXPECT_FALSE(mem.Read<uint64_t>(16 * kPageSize - 4).ok());      // straddles the end
  EXPECT_FALSE(mem.Slice(0x100000, 17 * kPageSize).ok());         // too long
  EXPECT_FALSE(mem.Slice(~0ull - 2, 8).ok());                     // wraps around
  EXPECT_FALSE(mem.Slice(0x100000 + 8, ~0ull).ok());              // length overflow
  EXPECT_TRUE(mem.Slice(0x100000, 16 * kPageSize).ok());
}

TEST(GuestMemory, RegionIndexOfAtRegionBorders) {
  GuestMemory mem = MakeTwoRegions();
  EXPECT_EQ(mem.RegionIndexOf(0), 0u);
  EXPECT_EQ(mem.RegionIndexOf(16 * kPageSize - 1), 0u);  // last byte of region 0
  EXPECT_EQ(mem.RegionIndexOf(16 * kPageSize), std::nullopt);  // first byte after it
  EXPECT_EQ(mem.RegionIndexOf(0x100000 - 1), std::nullopt);
  EXPECT_EQ(mem.RegionIndexOf(0x100000), 1u);
  EXPECT_EQ(mem.RegionIndexOf(0x100000 + 16 * kPageSize - 1), 1u);
  EXPECT_EQ(mem.RegionIndexOf(0x100000 + 16 * kPageSize), std::nullopt);
  EXPECT_EQ(mem.RegionIndexOf(~0ull), std::nullopt);
}

TEST(GuestMemory, RegionPiecesSplitAtRegionBordersAndDropTheGap) {
  GuestMemory mem = MakeTwoRegions();
  // From the last two pages of region 0, across the gap, into the first
  // three pages of region 1.
  std::vector<RegionPiece> pieces = mem.RegionPieces({14 * kPageSize, 0x100000 + 3 * kPageSize - 14 * kPageSize});
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].region, 0u);
  EXPECT_EQ(pieces[0].first_page, 14u);
  EXPECT_EQ(pieces[0].range, (GpaRange{14 * kPageSize, 2 * kPageSize}));
  EXPECT_EQ(pieces[0].pages(), 2u);
  EXPECT_EQ(pieces[1].region, 1u);
  EXPECT_EQ(pieces[1].first_page, 0u);
  EXPECT_EQ(pieces[1].range, (GpaRange{0x100000, 3 * kPageSize}));
  // Exactly one region; wholly in the gap; empty; one that would wrap.
  pieces = mem.RegionPieces({0x100000 + kPageSize, 15 * kPageSize});
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].first_page, 1u);
  EXPECT_EQ(pieces[0].pages(), 15u);
  EXPECT_TRUE(mem.RegionPieces({16 * kPageSize, 0x100000 - 16 * kPageSize}).empty());
  EXPECT_TRUE(mem.RegionPieces({0, 0}).empty());
  pieces = mem.RegionPieces({0x100000 + 15 * kPageSize, ~0ull});
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].range, (GpaRange{0x100000 + 15 * kPageSize, kPageSize}));
}

TEST(GpaRange, ContainsAndOverlapAtTheEnds) {
  const GpaRange r{0x1000, 0x2000};
  EXPECT_EQ(r.end(), 0x3000u);
  EXPECT_FALSE(r.Contains(0xfff));
  EXPECT_TRUE(r.Contains(0x1000));
  EXPECT_TRUE(r.Contains(0x2fff));
  EXPECT_FALSE(r.Contains(0x3000));
  EXPECT_FALSE((GpaRange{0x1000, 0}).Contains(0x1000));
  EXPECT_EQ(r.Overlap({0x2000, 0x5000}), (GpaRange{0x2000, 0x1000}));
  EXPECT_EQ(r.Overlap({0, 0x1000}), GpaRange{});  // adjacent: nothing shared
  EXPECT_TRUE(r.Overlap({0x3000, 0x1000}).empty());
  EXPECT_EQ(r.Overlap({0, ~0ull}), r);
  // A range that would wrap past 2^64 is cut at the top, not wrapped to 0.
  EXPECT_EQ((GpaRange{~0ull - 0xfff, 0x2000}).Overlap({0, ~0ull}), (GpaRange{~0ull - 0xfff, 0xfff}));
  EXPECT_TRUE((GpaRange{~0ull - 0xfff, 0x2000}).Overlap({0, 0x1000}).empty());
}

TEST(GuestMemory, BackingCopiesMatchTheMappingAndAreChecked) {
  GuestMemory mem = MakeTwoRegions();
  std::vector<uint8_t> data(2 * kPageSize);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13);
  mem.SetDirtyTracking(true);
  ASSERT_TRUE(mem.WriteBacking(0x100000 + 3 * kPageSize, data).ok());
  EXPECT_EQ(*mem.Read<uint8_t>(0x100000 + 3 * kPageSize + 5), data[5]);  // seen through the mapping
  std::vector<uint64_t> dirty = mem.TakeDirtyPages(1);
  EXPECT_EQ(dirty[0], 0b11000u);
  ASSERT_TRUE(mem.Write<uint32_t>(0x2000, 0xabcdef01).ok());
  std::vector<uint8_t> back(kPageSize);
  ASSERT_TRUE(mem.ReadBacking(0x2000, back).ok());
  EXPECT_EQ(back[0], 0x01);
  EXPECT_EQ(back[3], 0xab);
  std::vector<uint8_t> two(2 * kPageSize);
  EXPECT_TRUE(absl::IsOutOfRange(mem.ReadBacking(15 * kPageSize, two)));       // crosses into the gap
  EXPECT_TRUE(absl::IsOutOfRange(mem.WriteBacking(0x100000 + 15 * kPageSize, two)));  // past the end
  // A bulk WriteBytes (a kernel image) takes the same path: same result.
  std::vector<uint8_t> image(10 * kPageSize + 100, 0x5c);
  ASSERT_TRUE(mem.WriteBytes(kPageSize + 8, image).ok());
  EXPECT_EQ(*mem.Read<uint8_t>(kPageSize + 8 + image.size() - 1), 0x5c);
  EXPECT_EQ(*mem.Read<uint8_t>(kPageSize + 8 + image.size()), 0);
  EXPECT_EQ(mem.TakeDirtyPages(0)[0], 0xffeu);  // pages 1..11
}

TEST(GuestMemory, ZeroClearsExactlyTheRange) {
  GuestMemory mem = MakeTwoRegions();
  std::vector<uint8_t> ones(16 * kPageSize, 1);
  ASSERT_TRUE(mem.WriteBytes(0, ones).ok());
  ASSERT_TRUE(mem.Zero(kPageSize + 10, 3 * kPageSize).ok());  // partial, 2 whole pages, partial
  EXPECT_EQ(*mem.Read<uint8_t>(kPageSize + 9), 1);
  EXPECT_EQ(*mem.Read<uint8_t>(kPageSize + 10), 0);
  EXPECT_EQ(*mem.Read<uint8_t>(3 * kPageSize), 0);
  EXPECT_EQ(*mem.Read<uint8_t>(4 * kPageSize + 9), 0);
  EXPECT_EQ(*mem.Read<uint8_t>(4 * kPageSize + 10), 1);
  ASSERT_TRUE(mem.Zero(8 * kPageSize + 1, 5).ok());  // inside one page
  EXPECT_EQ(*mem.Read<uint8_t>(8 * kPageSize), 1);
  EXPECT_EQ(*mem.Read<uint8_t>(8 * kPageSize + 5), 0);
  EXPECT_EQ(*mem.Read<uint8_t>(8 * kPageSize + 6), 1);
  EXPECT_FALSE(mem.Zero(15 * kPageSize, 2 * kPageSize).ok());  // runs off the region
}

TEST(GuestMemory, DiscardZeroesAndFreesPages) {
  GuestMemory mem = MakeTwoRegions();
  std::vector<uint8_t> ones(4 * kPageSize, 1);
  ASSERT_TRUE(mem.WriteBytes(0x100000 + kPageSize, ones).ok());
  struct stat st;
  ASSERT_EQ(fstat(mem.memfd(), &st), 0);
  blkcnt_t before = st.st_blocks;
  ASSERT_TRUE(mem.Discard(0x100000 + kPageSize, 4 * kPageSize).ok());
  ASSERT_EQ(fstat(mem.memfd(), &st), 0);
  EXPECT_LT(st.st_blocks, before);
  EXPECT_EQ(*mem.Read<uint8_t>(0x100000 + kPageSize), 0);
}

TEST(GuestMemory, DiscardRejectsUnalignedAndOutside) {
  GuestMemory mem = MakeTwoRegions();
  EXPECT_FALSE(mem.Discard(1, kPageSize).ok());
  EXPECT_FALSE(mem.Discard(0, 0).ok());
  EXPECT_FALSE(mem.Discard(15 * kPageSize, 2 * kPageSize).ok());
}

TEST(GuestMemory, CreateRejectsUnaligned) {
  EXPECT_FALSE(GuestMemory::Create({{0, 100}}).ok());
  EXPECT_FALSE(GuestMemory::Create({}).ok());
}

}  // namespace
}  // namespace memory

namespace memory {
namespace {

bool PageBit(const std::vector<uint64_t>& words, uint64_t page) {
  return (words[page / 64] >> (page % 64)) & 1;
}

TEST(GuestMemoryDirty, TracksVmmWritesAndDiscardsOnlyWhileOn) {
  auto mem = GuestMemory::Create({{0, 1 << 20}, {0x200000, 1 << 20}});
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(mem->Write<uint32_t>(0x3000, 1).ok());  // before tracking: not recorded
  mem->SetDirtyTracking(true);
  ASSERT_TRUE(mem->Write<uint64_t>(0x4ffc, 7).ok());  // straddles pages 4 and 5
  ASSERT_TRUE(mem->Discard(0x200000 + 0x10000, 0x2000).ok());
  std::vector<uint64_t> r0 = mem->TakeDirtyPages(0);
  std::vector<uint64_t> r1 = mem->TakeDirtyPages(1);
  EXPECT_FALSE(PageBit(r0, 3));
  EXPECT_TRUE(PageBit(r0, 4));
  EXPECT_TRUE(PageBit(r0, 5));
  EXPECT_FALSE(PageBit(r0, 6));
  EXPECT_TRUE(PageBit(r1, 16));
  EXPECT_TRUE(PageBit(r1, 17));
  EXPECT_FALSE(PageBit(r1, 18));
  // Taking clears.
  std::vector<uint64_t> again = mem->TakeDirtyPages(0);
  EXPECT_FALSE(PageBit(again, 4));
  mem->SetDirtyTracking(false);
  ASSERT_TRUE(mem->Write<uint32_t>(0x8000, 1).ok());
  EXPECT_FALSE(PageBit(mem->TakeDirtyPages(0), 8));
}

TEST(GuestMemoryDirty, MarkWrittenMarksTheRangeAndRefusesOutsideRam) {
  auto mem = GuestMemory::Create({{0, 1 << 20}});
  ASSERT_TRUE(mem.ok());
  mem->SetDirtyTracking(true);
  ASSERT_TRUE(mem->MarkWritten(0x6ff0, 0x20).ok());  // pages 6 and 7
  EXPECT_FALSE(mem->MarkWritten((1 << 20) - 8, 16).ok());
  std::vector<uint64_t> r0 = mem->TakeDirtyPages(0);
  EXPECT_FALSE(PageBit(r0, 5));
  EXPECT_TRUE(PageBit(r0, 6));
  EXPECT_TRUE(PageBit(r0, 7));
  EXPECT_FALSE(PageBit(r0, 8));
  EXPECT_FALSE(PageBit(r0, 255));
}

TEST(GuestMemoryDirty, PopulatedPagesFindsOnlyTouchedRunsWithoutTouching) {
  auto mem = GuestMemory::Create({{0, 8 << 20}});
  ASSERT_TRUE(mem.ok());
  EXPECT_TRUE(mem->PopulatedPages(0).empty());
  ASSERT_TRUE(mem->Write<uint8_t>(0x5000, 1).ok());
  ASSERT_TRUE(mem->Write<uint8_t>(0x6000, 1).ok());
  ASSERT_TRUE(mem->Write<uint8_t>(0x400000, 1).ok());
  auto runs = mem->PopulatedPages(0);
  // shmem may back whole huge pages; only require the touched pages to be
  // covered and untouched far-away pages not to be.
  auto covered = [&](uint64_t page) {
    for (auto [a, b] : runs) if (page >= a && page < b) return true;
    return false;
  };
  EXPECT_TRUE(covered(5));
  EXPECT_TRUE(covered(6));
  EXPECT_TRUE(covered(0x400));
  EXPECT_FALSE(covered(0x7ff));
  ASSERT_TRUE(mem->Discard(0x400000, 0x1000).ok());
  runs = mem->PopulatedPages(0);
  EXPECT_FALSE(covered(0x400));
}

TEST(DirtyBitmap, SetClipsAndTakeClears) {
  DirtyBitmap b(130);
  b.Set(60, 10);
  b.Set(125, 100);  // clipped at 130
  std::vector<uint64_t> w = b.Take();
  ASSERT_EQ(w.size(), 3u);
  for (uint64_t p = 0; p < 130; ++p) EXPECT_EQ(PageBit(w, p), (p >= 60 && p < 70) || p >= 125) << p;
  EXPECT_EQ(w[2] >> 2, 0u);  // nothing beyond page 129
  for (uint64_t x : b.Take()) EXPECT_EQ(x, 0u);
}

}  // namespace
}  // namespace memory
