// SPDX-License-Identifier: MIT
#include "devices/balloon/chunk_format.h"

#include <gtest/gtest.h>

#include <vector>

namespace devices {
namespace {

using memory::GuestMemory;
using memory::kMiB;
using memory::kPageSize;

// RAM: [0, 16 MiB) and [32 MiB, 48 MiB).
class ChunkFormatTest : public ::testing::Test {
 protected:
  ChunkFormatTest() : mem_(std::move(*GuestMemory::Create({{0, 16 * kMiB}, {32 * kMiB, 16 * kMiB}}))) {}
  GuestMemory mem_;
};

TEST_F(ChunkFormatTest, DecodesAlignedBlocksInRam) {
  EXPECT_EQ(*DecodeChunk(EncodeChunk(4 * kMiB, 0), mem_), (PfnRange{1024, 1}));
  EXPECT_EQ(*DecodeChunk(EncodeChunk(4 * kMiB, 9), mem_), (PfnRange{1024, 512}));
  EXPECT_EQ(*DecodeChunk(EncodeChunk(32 * kMiB, 12), mem_), (PfnRange{8192, 4096}));  // all of region 2
  EXPECT_EQ(*DecodeChunk(EncodeChunk(0, 12), mem_), (PfnRange{0, 4096}));
  EXPECT_EQ(*DecodeChunk(EncodeChunk(48 * kMiB - kPageSize, 0), mem_), (PfnRange{12287, 1}));
}

TEST(ChunkFormat, DecodesTheLargestOrder) {
  GuestMemory big = std::move(*GuestMemory::Create({{0, 2ull << 30}}));
  EXPECT_EQ(*DecodeChunk(EncodeChunk(1ull << 30, kMaxChunkOrder), big), (PfnRange{1u << 18, 1u << 18}));
  EXPECT_FALSE(DecodeChunk(EncodeChunk(0, kMaxChunkOrder + 1), big).ok());  // 2 GiB: order too large
}

TEST_F(ChunkFormatTest, RefusesReservedBits) {
  for (unsigned bit = 6; bit < 12; ++bit) {
    absl::StatusOr<PfnRange> r = DecodeChunk(EncodeChunk(4 * kMiB, 0) | (1ull << bit), mem_);
    ASSERT_FALSE(r.ok()) << bit;
    EXPECT_NE(r.status().message().find("reserved"), std::string::npos) << r.status();
  }
}

TEST_F(ChunkFormatTest, RefusesOrdersAboveTheMaximum) {
  for (unsigned order : {kMaxChunkOrder + 1, 30u, 63u}) {
    absl::StatusOr<PfnRange> r = DecodeChunk(EncodeChunk(0, order), mem_);
    ASSERT_FALSE(r.ok()) << order;
    EXPECT_NE(r.status().message().find("order"), std::string::npos) << r.status();
  }
}

TEST_F(ChunkFormatTest, RefusesBlocksNotAlignedToTheirSize) {
  EXPECT_FALSE(DecodeChunk(EncodeChunk(4 * kMiB + kPageSize, 9), mem_).ok());
  EXPECT_FALSE(DecodeChunk(EncodeChunk(4 * kMiB + kPageSize, 1), mem_).ok());
  EXPECT_FALSE(DecodeChunk(EncodeChunk(1 * kMiB, 9), mem_).ok());
  EXPECT_TRUE(DecodeChunk(EncodeChunk(4 * kMiB + 2 * kPageSize, 1), mem_).ok());
}

TEST_F(ChunkFormatTest, RefusesBlocksOutsideOneRamRegion) {
  EXPECT_FALSE(DecodeChunk(EncodeChunk(16 * kMiB, 0), mem_).ok());   // the hole
  EXPECT_FALSE(DecodeChunk(EncodeChunk(48 * kMiB, 0), mem_).ok());   // past the end
  EXPECT_FALSE(DecodeChunk(EncodeChunk(0, 13), mem_).ok());          // [0, 32 MiB): runs into the hole
  EXPECT_FALSE(DecodeChunk(EncodeChunk(0, 14), mem_).ok());          // [0, 64 MiB): spans both regions
  EXPECT_FALSE(DecodeChunk(EncodeChunk(32 * kMiB, 13), mem_).ok());  // [32, 64 MiB): beyond RAM
  // The top of the address space: no wrap-around into RAM.
  EXPECT_FALSE(DecodeChunk(0xfffffffffffff000ull, mem_).ok());
  EXPECT_FALSE(DecodeChunk(EncodeChunk(0xffffffffc0000000ull, kMaxChunkOrder), mem_).ok());
}

TEST_F(ChunkFormatTest, ReadsWholeBuffersOfEntries) {
  const std::vector<uint64_t> in = {EncodeChunk(4 * kMiB, 9), EncodeChunk(8 * kMiB, 0), 0x123};
  ASSERT_TRUE(mem_.WriteBytes(kMiB, {reinterpret_cast<const uint8_t*>(in.data()), in.size() * 8}).ok());
  std::vector<uint64_t> out = {7, 7, 7, 7, 7};
  ASSERT_TRUE(ReadChunkBuffer({.gpa = kMiB, .len = 24, .writable = false}, mem_, out).ok());
  EXPECT_EQ(out, in);
  ASSERT_TRUE(ReadChunkBuffer({.gpa = kMiB, .len = 0, .writable = false}, mem_, out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(ReadChunkBuffer({.gpa = kMiB, .len = kMaxChunksPerBuffer * 8, .writable = false}, mem_, out).ok());
  EXPECT_EQ(out.size(), kMaxChunksPerBuffer);
}

TEST_F(ChunkFormatTest, RefusesMalformedBuffers) {
  std::vector<uint64_t> out = {1};
  EXPECT_FALSE(ReadChunkBuffer({.gpa = kMiB, .len = 8, .writable = true}, mem_, out).ok());
  EXPECT_TRUE(out.empty());
  for (uint32_t len : {1u, 4u, 12u, 15u}) {
    EXPECT_FALSE(ReadChunkBuffer({.gpa = kMiB, .len = len, .writable = false}, mem_, out).ok()) << len;
  }
  EXPECT_FALSE(ReadChunkBuffer({.gpa = kMiB, .len = (kMaxChunksPerBuffer + 1) * 8, .writable = false}, mem_, out).ok());
  // Not in RAM (the queue checks this first; the reader must not trust it).
  EXPECT_FALSE(ReadChunkBuffer({.gpa = 16 * kMiB, .len = 8, .writable = false}, mem_, out).ok());
}

TEST_F(ChunkFormatTest, InflateMustNotOverlapAndDeflateMustBeWhollyBallooned) {
  PageBitmap ballooned(12288);
  const PfnRange huge{1024, 512};
  EXPECT_TRUE(CheckInflatable(ballooned, huge).ok());
  EXPECT_FALSE(CheckDeflatable(ballooned, huge).ok());
  ballooned.Set(1024 + 511, 1);  // one page at the end
  EXPECT_FALSE(CheckInflatable(ballooned, huge).ok());
  EXPECT_FALSE(CheckDeflatable(ballooned, huge).ok());
  EXPECT_TRUE(CheckInflatable(ballooned, {1024, 511}).ok());
  ballooned.Set(1024, 511);
  EXPECT_TRUE(CheckDeflatable(ballooned, huge).ok());
  EXPECT_TRUE(CheckDeflatable(ballooned, {1024 + 100, 1}).ok());
  EXPECT_FALSE(CheckDeflatable(ballooned, {1024 + 256, 512}).ok());  // half outside
  EXPECT_TRUE(CheckInflatable(ballooned, {1536, 512}).ok());         // adjacent is fine
}

TEST(PageBitmapRanges, AnyAndAllSetAcrossWordsAndTheEnd) {
  PageBitmap b(200);
  EXPECT_TRUE(b.AllSet(5, 0));
  EXPECT_FALSE(b.AnySet(0, 200));
  b.Set(60, 80);  // [60, 140): three words
  EXPECT_TRUE(b.AllSet(60, 80));
  EXPECT_FALSE(b.AllSet(59, 80));
  EXPECT_FALSE(b.AllSet(61, 80));
  EXPECT_TRUE(b.AnySet(0, 61));
  EXPECT_FALSE(b.AnySet(0, 60));
  EXPECT_FALSE(b.AnySet(140, 1000));
  EXPECT_EQ(b.CountIn(100, 1000), 40u);
  b.Set(190, 10);
  EXPECT_TRUE(b.AllSet(190, 10));
  EXPECT_FALSE(b.AllSet(190, 11));  // past the end counts as clear
  EXPECT_FALSE(b.AnySet(300, 5));
}

}  // namespace
}  // namespace devices
