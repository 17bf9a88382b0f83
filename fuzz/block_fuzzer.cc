// SPDX-License-Identifier: MIT
// Fuzzes devices::Block (virtio-blk) through virtio::MmioTransport the way
// a guest drives it, on a small temporary image. The input is a guest
// script (devices/testing/guest_scripts.h's ByteSource, little-endian
// integers from the front): readonly or not, the features the driver
// accepts, then a sequence of actions: requests of any type, sector and
// framing (up to four data buffers anywhere in or out of RAM, readable or
// writable, the status byte moved or left out), several offered before one
// notification, raw writes into the rings, register writes, resets. After
// the sequence the saved state must load into a fresh device on an image
// of the same size (fuzz::CheckSaveLoad).
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "devices/block/block.h"
#include "devices/block/testing/block_harness.h"
#include "devices/testing/guest_scripts.h"
#include "fuzz/fuzz_support.h"

namespace {

using devices::testing::BlockHarness;
using devices::testing::ByteSource;
using Buffer = virtio::FakeDriver::Buffer;

constexpr uint64_t kImageBytes = 64 * 1024;  // 128 sectors
constexpr int kMaxActions = 64;

// Request types worth hitting, plus whatever the input names.
uint32_t RequestType(ByteSource& in) {
  static constexpr uint32_t kTypes[] = {VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,     VIRTIO_BLK_T_FLUSH,
                                        VIRTIO_BLK_T_GET_ID,  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};
  const uint8_t pick = in.ConsumeIntegral<uint8_t>();
  return pick < 240 ? kTypes[pick % 6] : in.ConsumeIntegral<uint32_t>();
}

// Near the disk (and its end) mostly; anything sometimes.
uint64_t Sector(ByteSource& in) {
  const uint8_t pick = in.ConsumeIntegral<uint8_t>();
  if (pick < 200) return in.ConsumeIntegralInRange<uint64_t>(0, kImageBytes / 512 + 2);
  return in.ConsumeIntegral<uint64_t>();
}

Buffer DataBuffer(ByteSource& in) {
  const uint8_t where = in.ConsumeIntegral<uint8_t>();
  memory::Gpa gpa = BlockHarness::kData + in.ConsumeIntegralInRange<uint64_t>(0, 1 << 20);
  if (where >= 250) gpa = in.ConsumeIntegral<uint64_t>();  // anywhere, RAM or not
  const uint32_t len = where % 4 == 0 ? in.ConsumeIntegralInRange<uint32_t>(0, 4096)
                                      : 512u * in.ConsumeIntegralInRange<uint32_t>(0, 16);
  return {gpa, len, (where & 8) != 0};
}

void OfferRequest(ByteSource& in, BlockHarness& h) {
  const uint32_t type = RequestType(in);
  const uint64_t sector = Sector(in);
  std::vector<Buffer> data;
  const int buffers = in.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < buffers; ++i) data.push_back(DataBuffer(in));
  // Discard and write-zeroes ranges in the first readable buffer.
  if (!data.empty() && !data[0].writable && (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)) {
    std::vector<uint8_t> ranges(std::min<uint32_t>(data[0].len, 4 * 16));
    for (uint8_t& b : ranges) b = in.ConsumeIntegral<uint8_t>();
    (void)h.mem.WriteBytes(data[0].gpa, ranges);
  }
  const uint8_t shape = in.ConsumeIntegral<uint8_t>();
  if (shape < 200) {
    h.Offer(type, sector, data);  // header + data + status, Linux's framing
    return;
  }
  // Odd framings: the header writable, no status byte, or a short header.
  const uint16_t slot = h.next_request++;
  const virtio_blk_outhdr header = {.type = type, .ioprio = 0, .sector = sector};
  (void)h.mem.WriteBytes(BlockHarness::HeaderAt(slot), {reinterpret_cast<const uint8_t*>(&header), sizeof(header)});
  std::vector<Buffer> chain = {{BlockHarness::HeaderAt(slot), shape % 17u, (shape & 1) != 0}};
  chain.insert(chain.end(), data.begin(), data.end());
  if (shape & 2) chain.push_back({BlockHarness::StatusAt(slot), 1, true});
  h.driver->AddChain(chain);
}

void RunBlockScript(ByteSource& in, BlockHarness& h) {
  h.Negotiate(~0ull & ~(uint64_t{in.ConsumeIntegral<uint8_t>()} << 9));  // maybe drop FLUSH..WRITE_ZEROES
  for (int action = 0; action < kMaxActions && in.remaining_bytes() > 0; ++action) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
      case 1: {
        const int requests = in.ConsumeIntegralInRange<int>(1, 8);
        for (int i = 0; i < requests; ++i) OfferRequest(in, h);
        h.NotifyAndWait();
        break;
      }
      case 2: {  // the guest scribbles on its rings
        const uint64_t offset = in.ConsumeIntegralInRange<uint64_t>(0, virtio::FakeDriver::Footprint(devices::Block::kQueueSize) - 2);
        (void)h.mem.Write<uint16_t>(BlockHarness::kRing + offset, in.ConsumeIntegral<uint16_t>());
        h.NotifyAndWait();
        break;
      }
      case 3:
        h.WriteReg(in.ConsumeIntegralInRange<uint64_t>(0, 0x100) & ~3ull, in.ConsumeIntegral<uint32_t>());
        h.Settle();
        break;
      case 4: {  // config reads of any width and offset
        std::vector<uint8_t> bytes(in.ConsumeIntegralInRange<size_t>(1, 8));
        h.block->ReadConfig(in.ConsumeIntegralInRange<uint64_t>(0, 80), bytes);
        break;
      }
      case 5:  // reset and probe again
        h.WriteReg(VIRTIO_MMIO_STATUS, 0);
        h.next_request = 0;
        h.Negotiate();
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Two images of one size: the device's and the fresh one's (each locks
  // its own).
  static devices::testing::TempImage* image = new devices::testing::TempImage(kImageBytes);
  static devices::testing::TempImage* fresh_image = new devices::testing::TempImage(kImageBytes);
  ByteSource in({data, size});
  const bool readonly = in.ConsumeIntegral<uint8_t>() & 1;
  // No worker threads: requests are served on this thread (the parsing is
  // the same; a thread per device and a hand-off per notification would
  // cost more than the requests).
  std::unique_ptr<BlockHarness> h = BlockHarness::MakeWithoutWorker(image->path(), readonly);
  std::unique_ptr<BlockHarness> fresh = BlockHarness::MakeWithoutWorker(fresh_image->path(), readonly);
  if (h == nullptr || fresh == nullptr) __builtin_trap();  // the images are ours: must open
  RunBlockScript(in, *h);
  fuzz::CheckSaveLoad(*h->transport, *fresh->transport, "virtio-blk behind virtio-mmio");
  return 0;
}
