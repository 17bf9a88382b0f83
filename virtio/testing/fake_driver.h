// SPDX-License-Identifier: MIT
// FakeDriver: the driver side of one split virtqueue, for tests only. It
// lays out the descriptor table, avail and used rings in a test GuestMemory
// and offers chains the way a Linux driver would; raw writers let tests
// build malformed rings on purpose.
#ifndef VIRTIO_TESTING_FAKE_DRIVER_H_
#define VIRTIO_TESTING_FAKE_DRIVER_H_

#include <cstdint>
#include <span>

#include "memory/guest_memory.h"
#include "virtio/queue.h"

namespace virtio {

class FakeDriver {
 public:
  struct Buffer {
    memory::Gpa gpa;
    uint32_t len;
    bool writable;
  };
  struct Used {
    uint32_t id;
    uint32_t len;
  };

  // Rings are placed at `base` (4 KiB aligned) and take under 16 + 18 bytes
  // per entry plus 2 pages.
  FakeDriver(memory::GuestMemory& mem, memory::Gpa base, uint16_t size);

  memory::Gpa desc_table() const { return desc_; }
  memory::Gpa avail_ring() const { return avail_; }
  memory::Gpa used_ring() const { return used_; }
  uint16_t size() const { return size_; }
  // Bytes of guest RAM the rings occupy from `base`.
  static uint64_t Footprint(uint16_t size);

  // Points `queue` at these rings and makes it ready.
  void Configure(Queue& queue, bool event_idx = false) const;

  // Writes a chain into free descriptors, publishes it, returns its head.
  uint16_t AddChain(std::span<const Buffer> buffers);
  // One descriptor pointing at an indirect table written at `table`.
  uint16_t AddIndirectChain(std::span<const Buffer> buffers, memory::Gpa table);

  // Raw access for malformed rings.
  void WriteDesc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
  void WriteDescAt(memory::Gpa gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
  void PublishHead(uint16_t head);  // ring entry + avail idx bump
  void SetAvailIdx(uint16_t idx);
  uint16_t avail_idx() const { return avail_idx_; }
  void SetAvailFlags(uint16_t flags);
  void SetUsedEvent(uint16_t idx);

  uint16_t UsedIdx() const;
  Used UsedAt(uint16_t slot) const;
  uint16_t AvailEvent() const;

 private:
  memory::GuestMemory& mem_;
  uint16_t size_;
  memory::Gpa desc_;
  memory::Gpa avail_;
  memory::Gpa used_;
  uint16_t next_free_ = 0;
  uint16_t avail_idx_ = 0;
};

}  // namespace virtio

#endif  // VIRTIO_TESTING_FAKE_DRIVER_H_
