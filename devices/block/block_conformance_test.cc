// SPDX-License-Identifier: MIT
// The Migratable conformance suite (state/testing) for virtio-blk behind
// its virtio-mmio transport. Each instance has its own guest memory and its
// own image file of the same size, as a destination opening the shared
// image does; a driver negotiates, writes and reads through the queue.
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "devices/block/block.h"
#include "devices/block/testing/block_harness.h"
#include "state/testing/migratable_conformance.h"

namespace devices {
namespace {

using testing::BlockHarness;
using testing::TempImage;

constexpr uint64_t kImageBytes = 256 * 1024;

struct BlockCase : state::testing::CaseDefaults {
  struct Instance {
    TempImage image{kImageBytes};
    std::unique_ptr<BlockHarness> h = BlockHarness::Make(image.path());
  };

  static std::unique_ptr<Instance> Make() { return std::make_unique<Instance>(); }
  static state::Migratable& Part(Instance& i) { return *i.h->transport; }

  static void Change(Instance& i) {
    ASSERT_TRUE(i.h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK);
    ASSERT_TRUE(i.h->mem.WriteBytes(BlockHarness::kData, std::vector<uint8_t>(512, 0x5a)).ok());
    ASSERT_EQ(i.h->Submit(VIRTIO_BLK_T_OUT, 3, {{BlockHarness::kData, 512, false}}), VIRTIO_BLK_S_OK);
    i.h->WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  }

  static void ChangeAgain(Instance& i) {
    ASSERT_EQ(i.h->Submit(VIRTIO_BLK_T_IN, 3, {{BlockHarness::kData, 512, true}}), VIRTIO_BLK_S_OK);
    i.h->WriteReg(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    i.h->WriteReg(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  }

  static state::testing::Observed Observe(Instance& i) {
    state::testing::Observed o;
    BlockHarness& h = *i.h;
    o["status"] = h.ReadReg(VIRTIO_MMIO_STATUS);
    o["interrupt_status"] = h.ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS);
    o["driver_features"] = h.transport->driver_features();
    o["device_features"] = h.ReadReg(VIRTIO_MMIO_DEVICE_FEATURES);
    o["queue_ready"] = h.ReadReg(VIRTIO_MMIO_QUEUE_READY);
    o["queue_num"] = h.ReadReg(VIRTIO_MMIO_QUEUE_NUM);
    o["config.capacity"] = h.ReadReg(VIRTIO_MMIO_CONFIG + offsetof(virtio_blk_config, capacity));
    o["capacity_sectors"] = h.block->capacity_sectors();
    return o;
  }

  // As for every virtio device: streams from VMMs before the transport
  // saved it lack it.
  static std::vector<std::string> Optional() { return {"device_active"}; }
};

TEST(BlockLoadTest, RefusesADifferentCapacityNamingThePath) {
  BlockCase::Instance source;
  BlockCase::Change(source);
  const std::vector<uint8_t> saved = state::testing::SaveTree(*source.h->transport);
  TempImage bigger(2 * kImageBytes);
  std::unique_ptr<BlockHarness> dest = BlockHarness::Make(bigger.path());
  ASSERT_NE(dest, nullptr);
  absl::Status st = state::testing::LoadTree(*dest->transport, saved);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find(bigger.path()), std::string::npos) << st;
  EXPECT_NE(std::string(st.message()).find("sectors"), std::string::npos) << st;
}

TEST(BlockLoadTest, LoadedDeviceServesTheNextRequestAtTheSavedRingPosition) {
  BlockCase::Instance source;
  BlockCase::Change(source);
  const std::vector<uint8_t> saved = state::testing::SaveTree(*source.h->transport);
  // The destination: its own RAM holding a copy of the source's (as the
  // migrator would have sent it), the same image contents.
  BlockCase::Instance dest;
  std::vector<uint8_t> ram(BlockHarness::kRamBytes);
  ASSERT_TRUE(source.h->mem.ReadBytes(0, ram).ok());
  ASSERT_TRUE(dest.h->mem.WriteBytes(0, ram).ok());
  ASSERT_TRUE(state::testing::LoadTree(*dest.h->transport, saved).ok());
  // The source's driver goes on in the destination's memory: one request
  // offered and used so far; its descriptors are free again.
  BlockHarness& h = *dest.h;
  h.driver = std::make_unique<virtio::FakeDriver>(h.mem, BlockHarness::kRing, Block::kQueueSize);
  h.driver->SetAvailIdx(1);
  h.next_request = 1;
  ASSERT_EQ(h.Submit(VIRTIO_BLK_T_IN, 3, {{BlockHarness::kData + 4096, 512, true}}), VIRTIO_BLK_S_OK);
  EXPECT_EQ(h.driver->UsedIdx(), 2);
  EXPECT_EQ(h.driver->UsedAt(1).len, 513u);
}

}  // namespace
}  // namespace devices

namespace state::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(BlockBehindMmioTransport, MigratableConformance, devices::BlockCase);
}  // namespace state::testing
