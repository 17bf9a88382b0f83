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

TEST(GuestMemory, RejectsAccessOutsideOrAcrossRegions) {
  GuestMemory mem = MakeTwoRegions();
  EXPECT_FALSE(mem.Read<uint32_t>(16 * kPageSize).ok());          // in the gap
  EXPECT_FALSE(mem.Read<uint64_t>(16 * kPageSize - 4).ok());      // straddles the end
  EXPECT_FALSE(mem.Slice(0x100000, 17 * kPageSize).ok());         // too long
  EXPECT_FALSE(mem.Slice(~0ull - 2, 8).ok());                     // wraps around
  EXPECT_FALSE(mem.Slice(0x100000 + 8, ~0ull).ok());              // length overflow
  EXPECT_TRUE(mem.Slice(0x100000, 16 * kPageSize).ok());
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

TEST(GuestMemory, PopulateAllocatesOnlyTheRange) {
  GuestMemory mem = MakeTwoRegions();
  struct stat st;
  ASSERT_EQ(fstat(mem.memfd(), &st), 0);
  EXPECT_EQ(st.st_blocks, 0);
  mem.Populate(0x100000 + 100, 2 * kPageSize);  // unaligned: three pages
  ASSERT_EQ(fstat(mem.memfd(), &st), 0);
  EXPECT_EQ(st.st_blocks * 512, static_cast<blkcnt_t>(3 * kPageSize));
  mem.Populate(15 * kPageSize, 4 * kPageSize);  // outside: ignored
  ASSERT_EQ(fstat(mem.memfd(), &st), 0);
  EXPECT_EQ(st.st_blocks * 512, static_cast<blkcnt_t>(3 * kPageSize));
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
