// SPDX-License-Identifier: MIT
#include "devices/block/block_request.h"

#include <linux/virtio_blk.h>

#include <gtest/gtest.h>

#include <vector>

namespace devices {
namespace {

class BlockRequestTest : public ::testing::Test {
 protected:
  memory::GuestMemory mem_{std::move(*memory::GuestMemory::Create({{0, 1 << 20}}))};
  void Header(memory::Gpa gpa, uint32_t type, uint64_t sector) {
    const virtio_blk_outhdr h = {.type = type, .ioprio = 0, .sector = sector};
    ASSERT_TRUE(mem_.Write(gpa, h).ok());
  }
};

TEST_F(BlockRequestTest, LinuxFraming) {
  Header(0x1000, VIRTIO_BLK_T_IN, 77);
  virtio::DescriptorChain chain{.head = 3, .descriptors = {{0x1000, 16, false}, {0x2000, 4096, true}, {0x3000, 1, true}}};
  std::optional<BlockRequest> req = ParseBlockRequest(chain, mem_);
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->has_header);
  EXPECT_EQ(req->type, VIRTIO_BLK_T_IN);
  EXPECT_EQ(req->sector, 77u);
  EXPECT_EQ(req->out_len, 0u);
  EXPECT_EQ(req->in_len, 4096u);
  ASSERT_EQ(req->in_data.size(), 1u);
  EXPECT_EQ(req->in_data[0].gpa, 0x2000u);
  EXPECT_EQ(req->status_gpa, 0x3000u);
}

TEST_F(BlockRequestTest, HeaderSplitAcrossBuffersAndDataSharingThem) {
  // The header's first 10 bytes in one buffer, the rest and 512 bytes of
  // data in the next; the status byte ends the only writable buffer.
  const virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_OUT, .ioprio = 0, .sector = 5};
  const auto* bytes = reinterpret_cast<const uint8_t*>(&h);
  ASSERT_TRUE(mem_.WriteBytes(0x1000, {bytes, 10}).ok());
  ASSERT_TRUE(mem_.WriteBytes(0x2000, {bytes + 10, 6}).ok());
  virtio::DescriptorChain chain{.head = 0,
                                .descriptors = {{0x1000, 10, false}, {0x2000, 6 + 512, false}, {0x4000, 1, true}}};
  std::optional<BlockRequest> req = ParseBlockRequest(chain, mem_);
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->has_header);
  EXPECT_EQ(req->type, VIRTIO_BLK_T_OUT);
  EXPECT_EQ(req->sector, 5u);
  EXPECT_EQ(req->out_len, 512u);
  ASSERT_EQ(req->out_data.size(), 1u);
  EXPECT_EQ(req->out_data[0].gpa, 0x2006u);
  EXPECT_EQ(req->out_data[0].len, 512u);
  EXPECT_EQ(req->in_len, 0u);
}

TEST_F(BlockRequestTest, NoWritableByteCannotBeAnswered) {
  Header(0x1000, VIRTIO_BLK_T_FLUSH, 0);
  virtio::DescriptorChain chain{.head = 0, .descriptors = {{0x1000, 16, false}, {0x2000, 0, true}}};
  EXPECT_FALSE(ParseBlockRequest(chain, mem_).has_value());
  virtio::DescriptorChain empty{.head = 0, .descriptors = {}};
  EXPECT_FALSE(ParseBlockRequest(empty, mem_).has_value());
}

TEST_F(BlockRequestTest, ShortHeaderIsFlagged) {
  virtio::DescriptorChain chain{.head = 0, .descriptors = {{0x1000, 15, false}, {0x2000, 1, true}}};
  std::optional<BlockRequest> req = ParseBlockRequest(chain, mem_);
  ASSERT_TRUE(req.has_value());
  EXPECT_FALSE(req->has_header);
  EXPECT_EQ(req->status_gpa, 0x2000u);
}

TEST_F(BlockRequestTest, ReadSegmentsRefusesTooFewBytes) {
  std::vector<GuestSegment> segs = {{0x1000, 4}, {0x2000, 4}};
  std::vector<uint8_t> out(8);
  EXPECT_TRUE(ReadSegments(mem_, segs, out).ok());
  out.resize(9);
  EXPECT_FALSE(ReadSegments(mem_, segs, out).ok());
}

}  // namespace
}  // namespace devices
