// SPDX-License-Identifier: MIT
// The virtio-blk device end to end: a FakeDriver over plain guest memory
// talks to it through the virtio-mmio transport, and the image is a real
// temporary file read back with pread.
#include "devices/block/block.h"

#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "devices/block/testing/block_harness.h"
#include "virtio/virtio_ring_uapi.h"

namespace devices {
namespace {

using testing::BlockHarness;
using testing::TempImage;
using Buffer = virtio::FakeDriver::Buffer;

constexpr uint64_t kImageBytes = 1 << 20;  // 2048 sectors
constexpr uint64_t kSectors = kImageBytes / 512;
constexpr memory::Gpa kData = BlockHarness::kData;
constexpr uint64_t Bit(unsigned n) { return 1ull << n; }

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

std::vector<uint8_t> FileBytes(const std::string& path, uint64_t offset, size_t n) {
  std::vector<uint8_t> v(n);
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, v.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
  return v;
}

void PutFileBytes(const std::string& path, uint64_t offset, const std::vector<uint8_t>& data) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

// Whether [offset, offset + len) of the file is one hole (SEEK_DATA finds
// no data before its end).
bool IsHole(const std::string& path, uint64_t offset, uint64_t len) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  ::close(fd);
  return data < 0 || static_cast<uint64_t>(data) >= offset + len;
}

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(image_.ok());
    h_ = BlockHarness::Make(image_.path());
    ASSERT_NE(h_, nullptr);
  }
  void Ready(uint64_t accept = ~0ull) {
    const uint32_t status = h_->Negotiate(accept);
    ASSERT_TRUE(status & VIRTIO_CONFIG_S_DRIVER_OK) << status;
  }
  std::vector<uint8_t> Guest(memory::Gpa gpa, size_t n) {
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(h_->mem.ReadBytes(gpa, v).ok());
    return v;
  }
  void PutGuest(memory::Gpa gpa, const std::vector<uint8_t>& v) { ASSERT_TRUE(h_->mem.WriteBytes(gpa, v).ok()); }
  uint8_t Ranges(uint32_t type, const std::vector<virtio_blk_discard_write_zeroes>& ranges) {
    const size_t bytes = ranges.size() * sizeof(ranges[0]);
    EXPECT_TRUE(h_->mem.WriteBytes(kData, {reinterpret_cast<const uint8_t*>(ranges.data()), bytes}).ok());
    return h_->Submit(type, 0, {{kData, static_cast<uint32_t>(bytes), false}});
  }

  TempImage image_{kImageBytes};
  std::unique_ptr<BlockHarness> h_;
};

TEST_F(BlockTest, ConfigGivesCapacityLimitsAndFeatures) {
  auto config = [&](size_t field) { return h_->ReadReg(VIRTIO_MMIO_CONFIG + field); };
  EXPECT_EQ(config(offsetof(virtio_blk_config, capacity)), kSectors);
  EXPECT_EQ(config(offsetof(virtio_blk_config, capacity) + 4), 0u);
  EXPECT_EQ(config(offsetof(virtio_blk_config, seg_max)), Block::kQueueSize - 2u);
  EXPECT_EQ(config(offsetof(virtio_blk_config, blk_size)), 512u);
  EXPECT_EQ(config(offsetof(virtio_blk_config, max_discard_sectors)), Block::kMaxRangeSectors);
  EXPECT_EQ(config(offsetof(virtio_blk_config, max_discard_seg)), Block::kMaxRangeSegments);
  EXPECT_EQ(config(offsetof(virtio_blk_config, max_write_zeroes_seg)), Block::kMaxRangeSegments);
  const uint64_t f = h_->OfferedFeatures();
  for (unsigned bit : {VIRTIO_F_VERSION_1, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
                       VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES}) {
    EXPECT_TRUE(f & Bit(bit)) << bit;
  }
  EXPECT_FALSE(f & Bit(VIRTIO_BLK_F_RO));
  EXPECT_EQ(h_->block->device_type(), 2u);
}

TEST_F(BlockTest, WriteThenReadRoundTripsThroughTheFile) {
  Ready();
  const std::vector<uint8_t> data = Pattern(3 * 512, 1);
  PutGuest(kData, data);
  // Split across two buffers, as a scatter-gather list.
  ASSERT_EQ(h_->Submit(VIRTIO_BLK_T_OUT, 10, {{kData, 1024, false}, {kData + 1024, 512, false}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(FileBytes(image_.path(), 10 * 512, data.size()), data);

  const memory::Gpa back = kData + (1 << 20);
  ASSERT_EQ(h_->Submit(VIRTIO_BLK_T_IN, 10, {{back, 512, true}, {back + 512, 1024, true}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(Guest(back, data.size()), data);
  // The used length counts the data and the status byte.
  EXPECT_EQ(h_->driver->UsedIdx(), 2);
  EXPECT_EQ(h_->driver->UsedAt(1).len, data.size() + 1);
  EXPECT_EQ(h_->driver->UsedAt(0).len, 1u);
  EXPECT_GT(h_->irqs->load(), 0);
  const Block::Counters c = h_->block->counters();
  EXPECT_EQ(c.bytes_written, data.size());
  EXPECT_EQ(c.bytes_read, data.size());
  EXPECT_EQ(c.errors, 0u);
}

// Without a worker (the fuzz target's harness) the notifying thread serves
// the requests itself, more than one pass's worth included, and a request
// is served exactly once.
TEST(BlockWithoutWorkerTest, RequestsAreServedOnTheCallingThread) {
  TempImage image(kImageBytes);
  ASSERT_TRUE(image.ok());
  std::unique_ptr<BlockHarness> h = BlockHarness::MakeWithoutWorker(image.path());
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK);
  const std::vector<uint8_t> data = Pattern(512, 9);
  ASSERT_TRUE(h->mem.WriteBytes(kData, data).ok());
  ASSERT_EQ(h->Submit(VIRTIO_BLK_T_OUT, 3, {{kData, 512, false}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(FileBytes(image.path(), 3 * 512, 512), data);
  // A ring's worth of flushes in one notification: two passes.
  for (uint16_t i = 0; i < Block::kQueueSize; ++i) h->Offer(VIRTIO_BLK_T_FLUSH, 0, {});
  h->NotifyAndWait();
  EXPECT_EQ(h->driver->UsedIdx(), Block::kQueueSize + 1);
  h->Settle();  // nothing new: nothing served twice
  EXPECT_EQ(h->block->counters().requests, Block::kQueueSize + 1u);
  EXPECT_EQ(h->block->counters().flushes, Block::kQueueSize + 0u);
}

TEST_F(BlockTest, ReadOfTheLastSectorWorksAndOnePastFails) {
  Ready();
  const std::vector<uint8_t> last = Pattern(512, 9);
  PutFileBytes(image_.path(), kImageBytes - 512, last);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, kSectors - 1, {{kData, 512, true}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(Guest(kData, 512), last);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, kSectors - 1, {{kData, 1024, true}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, kSectors, {{kData, 512, true}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_OUT, kSectors, {{kData, 512, false}}), VIRTIO_BLK_S_IOERR);
  // A sector so large that sector * 512 or sector + count wraps.
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, UINT64_MAX, {{kData, 512, true}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, {{kData, 512, false}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->block->counters().errors, 5u);
}

TEST_F(BlockTest, MalformedRequestsGetIoErrorNotACrash) {
  Ready();
  // Data not a whole number of sectors.
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, 0, {{kData, 100, true}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_OUT, 0, {{kData, 513, false}}), VIRTIO_BLK_S_IOERR);
  // A read whose data buffer the device may not write, a write whose data
  // buffer is writable.
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_IN, 0, {{kData, 512, false}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_OUT, 0, {{kData, 512, true}}), VIRTIO_BLK_S_IOERR);
  // A header shorter than 16 bytes.
  const uint16_t slot = h_->next_request++;
  h_->driver->AddChain(std::vector<Buffer>{{BlockHarness::HeaderAt(slot), 8, false},
                                           {BlockHarness::StatusAt(slot), 1, true}});
  h_->NotifyAndWait();
  EXPECT_EQ(h_->Status(slot), VIRTIO_BLK_S_IOERR);
  // The header in a writable buffer: no readable header at all.
  const uint16_t slot2 = h_->next_request++;
  h_->driver->AddChain(std::vector<Buffer>{{BlockHarness::HeaderAt(slot2), 16, true},
                                           {BlockHarness::StatusAt(slot2), 1, true}});
  h_->NotifyAndWait();
  EXPECT_EQ(h_->Status(slot2), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->block->counters().errors, 6u);
}

TEST_F(BlockTest, RequestWithoutWritableStatusIsReturnedUnused) {
  Ready();
  const uint16_t slot = h_->next_request++;
  (void)h_->mem.Write<uint8_t>(BlockHarness::StatusAt(slot), 0xff);
  h_->driver->AddChain(std::vector<Buffer>{{BlockHarness::HeaderAt(slot), 16, false},
                                           {BlockHarness::StatusAt(slot), 1, false}});
  h_->NotifyAndWait();
  EXPECT_EQ(h_->driver->UsedIdx(), 1);
  EXPECT_EQ(h_->driver->UsedAt(0).len, 0u);
  EXPECT_EQ(h_->Status(slot), 0xff);
  // The queue still works.
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_FLUSH, 0, {}), VIRTIO_BLK_S_OK);
}

TEST_F(BlockTest, HeaderDataAndStatusMayShareBuffers) {
  Ready();
  // One readable buffer with the header and a sector of data.
  std::vector<uint8_t> req(16 + 512);
  const virtio_blk_outhdr header = {.type = VIRTIO_BLK_T_OUT, .ioprio = 0, .sector = 4};
  std::memcpy(req.data(), &header, sizeof(header));
  const std::vector<uint8_t> data = Pattern(512, 3);
  std::memcpy(req.data() + 16, data.data(), 512);
  PutGuest(kData, req);
  h_->driver->AddChain(std::vector<Buffer>{{kData, static_cast<uint32_t>(req.size()), false}, {kData + 4096, 1, true}});
  h_->NotifyAndWait();
  EXPECT_EQ(*h_->mem.Read<uint8_t>(kData + 4096), VIRTIO_BLK_S_OK);
  EXPECT_EQ(FileBytes(image_.path(), 4 * 512, 512), data);
  // A read whose data and status share one writable buffer.
  const virtio_blk_outhdr in = {.type = VIRTIO_BLK_T_IN, .ioprio = 0, .sector = 4};
  ASSERT_TRUE(h_->mem.Write(kData + 8192, in).ok());
  h_->driver->AddChain(std::vector<Buffer>{{kData + 8192, 16, false}, {kData + 12288, 513, true}});
  h_->NotifyAndWait();
  EXPECT_EQ(Guest(kData + 12288, 512), data);
  EXPECT_EQ(*h_->mem.Read<uint8_t>(kData + 12288 + 512), VIRTIO_BLK_S_OK);
}

TEST_F(BlockTest, UnknownTypeIsUnsupported) {
  Ready();
  EXPECT_EQ(h_->Submit(0x1234, 0, {}), VIRTIO_BLK_S_UNSUPP);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_SCSI_CMD, 0, {}), VIRTIO_BLK_S_UNSUPP);
}

TEST_F(BlockTest, FlushAndGetId) {
  Ready();
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_FLUSH, 0, {}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(h_->block->counters().flushes, 1u);
  std::vector<uint8_t> ones(VIRTIO_BLK_ID_BYTES, 0xee);
  PutGuest(kData, ones);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_GET_ID, 0, {{kData, VIRTIO_BLK_ID_BYTES, true}}), VIRTIO_BLK_S_OK);
  const std::string base = image_.path().substr(image_.path().rfind('/') + 1);
  std::vector<uint8_t> id = Guest(kData, VIRTIO_BLK_ID_BYTES);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(id.data()), base.size()), base);
  EXPECT_EQ(id[base.size()], 0);  // NUL-padded
  EXPECT_EQ(h_->driver->UsedAt(1).len, VIRTIO_BLK_ID_BYTES + 1u);
}

TEST_F(BlockTest, FlushWithoutTheFeatureIsUnsupported) {
  Ready(~Bit(VIRTIO_BLK_F_FLUSH));
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_FLUSH, 0, {}), VIRTIO_BLK_S_UNSUPP);
}

TEST_F(BlockTest, DiscardPunchesAHoleAndReadsBackZeros) {
  Ready();
  PutFileBytes(image_.path(), 0, Pattern(kImageBytes, 5));
  ASSERT_FALSE(IsHole(image_.path(), 64 * 1024, 64 * 1024));
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_DISCARD, {{.sector = 128, .num_sectors = 128, .flags = 0}}), VIRTIO_BLK_S_OK);
  EXPECT_TRUE(IsHole(image_.path(), 64 * 1024, 64 * 1024));
  EXPECT_EQ(FileBytes(image_.path(), 64 * 1024, 64 * 1024), std::vector<uint8_t>(64 * 1024, 0));
  // The data around it stays.
  const std::vector<uint8_t> pattern = Pattern(kImageBytes, 5);
  EXPECT_EQ(FileBytes(image_.path(), 64 * 1024 - 512, 512),
            std::vector<uint8_t>(pattern.begin() + 64 * 1024 - 512, pattern.begin() + 64 * 1024));
  EXPECT_EQ(FileBytes(image_.path(), 128 * 1024, 512),
            std::vector<uint8_t>(pattern.begin() + 128 * 1024, pattern.begin() + 128 * 1024 + 512));
  struct stat st;
  ASSERT_EQ(::stat(image_.path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kImageBytes);  // size kept
  EXPECT_EQ(h_->block->counters().discards, 1u);
}

TEST_F(BlockTest, WriteZeroesZeroesWithOrWithoutUnmap) {
  Ready();
  PutFileBytes(image_.path(), 0, Pattern(kImageBytes, 5));
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{.sector = 8, .num_sectors = 3, .flags = 0},
                                               {.sector = 256, .num_sectors = 256,
                                                .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}}),
            VIRTIO_BLK_S_OK);
  EXPECT_EQ(FileBytes(image_.path(), 8 * 512, 3 * 512), std::vector<uint8_t>(3 * 512, 0));
  EXPECT_EQ(FileBytes(image_.path(), 256 * 512, 256 * 512), std::vector<uint8_t>(256 * 512, 0));
  EXPECT_NE(FileBytes(image_.path(), 11 * 512, 512), std::vector<uint8_t>(512, 0));
}

TEST_F(BlockTest, BadRangesChangeNothing) {
  Ready();
  PutFileBytes(image_.path(), 0, Pattern(kImageBytes, 5));
  const std::vector<uint8_t> before = FileBytes(image_.path(), 0, kImageBytes);
  // Unmap on a discard and reserved flags: UNSUPP.
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_DISCARD, {{.sector = 0, .num_sectors = 8, .flags = 1}}), VIRTIO_BLK_S_UNSUPP);
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{.sector = 0, .num_sectors = 8, .flags = 2}}), VIRTIO_BLK_S_UNSUPP);
  // A good range then one beyond the disk: nothing applied.
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_DISCARD, {{.sector = 0, .num_sectors = 8, .flags = 0},
                                          {.sector = kSectors - 1, .num_sectors = 2, .flags = 0}}),
            VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{.sector = UINT64_MAX - 1, .num_sectors = 8, .flags = 0}}),
            VIRTIO_BLK_S_IOERR);
  // More ranges than max_discard_seg.
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_DISCARD, std::vector<virtio_blk_discard_write_zeroes>(
                                             Block::kMaxRangeSegments + 1, {.sector = 0, .num_sectors = 1, .flags = 0})),
            VIRTIO_BLK_S_IOERR);
  // Not a whole number of ranges.
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_DISCARD, 0, {{kData, 15, false}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_DISCARD, 0, {}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(FileBytes(image_.path(), 0, kImageBytes), before);
}

TEST_F(BlockTest, DiscardWithoutTheFeatureIsUnsupported) {
  Ready(~(Bit(VIRTIO_BLK_F_DISCARD) | Bit(VIRTIO_BLK_F_WRITE_ZEROES)));
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_DISCARD, {{.sector = 0, .num_sectors = 8, .flags = 0}}), VIRTIO_BLK_S_UNSUPP);
  EXPECT_EQ(Ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{.sector = 0, .num_sectors = 8, .flags = 0}}), VIRTIO_BLK_S_UNSUPP);
}

TEST_F(BlockTest, ManyRequestsInFlightAreAllServedInOneNotification) {
  Ready();
  std::vector<uint16_t> slots;
  for (uint32_t i = 0; i < 40; ++i) {
    PutGuest(kData + i * 512, Pattern(512, static_cast<uint8_t>(i)));
    slots.push_back(h_->Offer(VIRTIO_BLK_T_OUT, i, {{kData + i * 512, 512, false}}));
  }
  h_->NotifyAndWait();
  for (uint16_t slot : slots) EXPECT_EQ(h_->Status(slot), VIRTIO_BLK_S_OK);
  EXPECT_EQ(h_->driver->UsedIdx(), 40);
  for (uint32_t i = 0; i < 40; ++i) {
    EXPECT_EQ(FileBytes(image_.path(), i * 512, 512), Pattern(512, static_cast<uint8_t>(i))) << i;
  }
}

TEST_F(BlockTest, ReadMarksTheGuestPagesDirty) {
  Ready();
  h_->mem.SetDirtyTracking(true);
  (void)h_->mem.TakeDirtyPages(0);
  ASSERT_EQ(h_->Submit(VIRTIO_BLK_T_IN, 0, {{kData + 3 * 4096, 8192, true}}), VIRTIO_BLK_S_OK);
  const std::vector<uint64_t> dirty = h_->mem.TakeDirtyPages(0);
  const uint64_t first = kData / 4096 + 3;
  EXPECT_TRUE((dirty[first / 64] >> (first % 64)) & 1);
  EXPECT_TRUE((dirty[(first + 1) / 64] >> ((first + 1) % 64)) & 1);
  EXPECT_FALSE((dirty[(first + 2) / 64] >> ((first + 2) % 64)) & 1);
}

TEST_F(BlockTest, ResetWhileIdleAndReactivateWorks) {
  Ready();
  h_->WriteReg(VIRTIO_MMIO_STATUS, 0);
  EXPECT_EQ(h_->ReadReg(VIRTIO_MMIO_STATUS), 0u);
  Ready();
  EXPECT_EQ(h_->Submit(VIRTIO_BLK_T_FLUSH, 0, {}), VIRTIO_BLK_S_OK);
}

TEST_F(BlockTest, CorruptRingStopsTheQueueWithoutACrash) {
  Ready();
  // A descriptor pointing outside guest RAM.
  h_->driver->WriteDesc(0, BlockHarness::kRamBytes + 4096, 16, 0, 0);
  h_->driver->PublishHead(0);
  h_->NotifyAndWait();
  EXPECT_EQ(h_->driver->UsedIdx(), 0);
}

TEST(BlockReadonlyTest, OffersRoAndRefusesWritesWithIoError) {
  TempImage image(kImageBytes);
  PutFileBytes(image.path(), 0, Pattern(4096, 2));
  std::unique_ptr<BlockHarness> h = BlockHarness::Make(image.path(), /*readonly=*/true);
  ASSERT_NE(h, nullptr);
  const uint64_t f = h->OfferedFeatures();
  EXPECT_TRUE(f & Bit(VIRTIO_BLK_F_RO));
  EXPECT_FALSE(f & Bit(VIRTIO_BLK_F_DISCARD));
  ASSERT_TRUE(h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK);
  (void)h->mem.WriteBytes(kData, Pattern(512, 77));
  EXPECT_EQ(h->Submit(VIRTIO_BLK_T_OUT, 0, {{kData, 512, false}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(h->Submit(VIRTIO_BLK_T_DISCARD, 0, {{kData, 16, false}}), VIRTIO_BLK_S_IOERR);
  EXPECT_EQ(FileBytes(image.path(), 0, 4096), Pattern(4096, 2));
  EXPECT_EQ(h->Submit(VIRTIO_BLK_T_IN, 0, {{kData, 512, true}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(h->Submit(VIRTIO_BLK_T_FLUSH, 0, {}), VIRTIO_BLK_S_OK);
}

TEST(BlockCreateTest, MissingImageNamesThePath) {
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Create({.path = "/nonexistent/disk.img"});
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.status().message().find("/nonexistent/disk.img"), std::string::npos) << block.status();
}

}  // namespace
}  // namespace devices
