// SPDX-License-Identifier: MIT
// Fuzzes virtio::Queue (split ring): the input is a small header that places
// the rings and sizes the queue, then the image of guest RAM the rings and
// buffers are read from, then the device's answers (used lengths). The
// queue must end every chain in a value or an error: no out-of-bounds
// access, no hang on a looping chain, no UB.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "virtio/queue.h"

namespace {

struct Header {
  uint16_t max_size;
  uint16_t size;
  uint8_t event_idx;
  uint8_t pops;  // how many chains to pop at most
  uint32_t desc_table;  // GPAs, low 20 bits: inside or just beyond RAM
  uint32_t avail_ring;
  uint32_t used_ring;
};

memory::Gpa Place(uint32_t raw) {
  // Bit 20 picks the high region, so rings land in either RAM region, in
  // the hole, or across a region's end.
  return (raw & (fuzz::kHighRamBase | 0x1ffff));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Header h;
  if (in.ConsumeData(&h, sizeof(h)) != sizeof(h)) return 0;
  memory::GuestMemory& mem = fuzz::ZeroedSharedMemory();
  // Guest RAM image: the low region from the input, the high region a copy
  // of it, so chains can also point there.
  std::vector<uint8_t> image = in.ConsumeBytes<uint8_t>(std::min<size_t>(in.remaining_bytes(), fuzz::kLowRamSize));
  if (!image.empty()) {
    if (!mem.WriteBytes(0, image).ok() || !mem.WriteBytes(fuzz::kHighRamBase, image).ok()) return 0;
  }

  virtio::Queue queue(std::clamp<uint16_t>(h.max_size, 1, virtio::Queue::kMaxSize));
  queue.set_size(h.size);
  queue.set_desc_table(Place(h.desc_table));
  queue.set_avail_ring(Place(h.avail_ring));
  queue.set_used_ring(Place(h.used_ring));
  queue.set_event_idx(h.event_idx & 1);
  if (!queue.MakeReady(mem).ok()) return 0;

  for (int i = 0; i < std::max<int>(h.pops, 1); ++i) {
    absl::StatusOr<std::optional<virtio::DescriptorChain>> chain = queue.PopChain(mem);
    if (!chain.ok() || !chain->has_value()) break;
    uint32_t written = 0;
    for (const virtio::Descriptor& d : (*chain)->descriptors) {
      // A validated descriptor lies in RAM: reading it must work.
      if (!mem.IsValidRange(d.gpa, d.len)) __builtin_trap();
      if (d.writable) written += d.len;
    }
    const uint32_t claimed = in.ConsumeIntegralInRange<uint32_t>(0, written);
    if (!queue.AddUsed(mem, (*chain)->head, claimed).ok()) break;
    (void)queue.NeedsInterrupt(mem);
  }

  // The ring position must survive a save and restore.
  virtio::Queue restored(queue.max_size());
  if (!restored.Restore(queue.Save(), mem).ok()) __builtin_trap();
  return 0;
}
