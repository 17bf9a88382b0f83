// SPDX-License-Identifier: MIT
// virtio::Queue: the device side of one split virtqueue (virtio 1.2, 2.7).
//
// The queue holds only its configuration and the two device-owned indices;
// the rings themselves live in guest RAM and are reached through the
// GuestMemory passed to every call. Trust boundary: everything read from the
// rings is guest-controlled. Each descriptor is copied out of guest memory
// exactly once and only the copy is validated and used, so the guest cannot
// change a descriptor between check and use. Chains are bounded in length,
// so a looping chain ends in an error, never in a hang.
//
// Not thread-safe: the owner (a device) serialises calls.
#ifndef VIRTIO_QUEUE_H_
#define VIRTIO_QUEUE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "memory/guest_memory.h"

namespace virtio {

// One buffer of a chain, after validation: [gpa, gpa + len) lies in one RAM
// region.
struct Descriptor {
  memory::Gpa gpa = 0;
  uint32_t len = 0;
  bool writable = false;  // device-writable (VRING_DESC_F_WRITE)
};

struct DescriptorChain {
  uint16_t head = 0;  // the index to hand back through AddUsed
  std::vector<Descriptor> descriptors;
};

class Queue {
 public:
  // Largest queue size the split ring allows (virtio 1.2, 2.7).
  static constexpr uint16_t kMaxSize = 32768;

  explicit Queue(uint16_t max_size);

  // Configuration, written by the transport while the queue is not ready.
  uint16_t max_size() const { return max_size_; }
  uint16_t size() const { return size_; }
  void set_size(uint16_t size) { size_ = size; }
  memory::Gpa desc_table() const { return desc_table_; }
  memory::Gpa avail_ring() const { return avail_ring_; }
  memory::Gpa used_ring() const { return used_ring_; }
  void set_desc_table(memory::Gpa gpa) { desc_table_ = gpa; }
  void set_avail_ring(memory::Gpa gpa) { avail_ring_ = gpa; }
  void set_used_ring(memory::Gpa gpa) { used_ring_ = gpa; }
  bool event_idx() const { return event_idx_; }
  void set_event_idx(bool enabled) { event_idx_ = enabled; }
  bool ready() const { return ready_; }

  // Checks size (power of two, <= max_size), alignment and that all three
  // rings lie in guest RAM, then marks the queue ready. On error the queue
  // stays not ready.
  absl::Status MakeReady(const memory::GuestMemory& mem);
  void Disable() { ready_ = false; }

  // Back to the state after construction.
  void Reset();

  // Device-owned ring indices; exposed for migration.
  uint16_t last_avail_idx() const { return last_avail_idx_; }
  uint16_t next_used_idx() const { return next_used_idx_; }
  void set_indices(uint16_t last_avail_idx, uint16_t next_used_idx) {
    last_avail_idx_ = last_avail_idx;
    next_used_idx_ = next_used_idx;
  }

  // Everything about the queue, for migration. Restore checks it as the
  // transport checks a driver's configuration (MakeReady for a ready
  // queue); on error the queue is left reset.
  struct Snapshot {
    uint16_t size;
    uint16_t last_avail_idx;
    uint16_t next_used_idx;
    uint16_t signalled_used;
    uint8_t ready;
    uint8_t event_idx;
    uint8_t has_signalled_used;
    uint8_t reserved[5];
    uint64_t desc_table;
    uint64_t avail_ring;
    uint64_t used_ring;
  };
  Snapshot Save() const;
  absl::Status Restore(const Snapshot& s, const memory::GuestMemory& mem);

  // The next available chain, or nullopt when the driver has offered none.
  // An error means the ring is corrupt (the chain, if any, is consumed); the
  // device should then ask for a reset rather than keep using the queue.
  absl::StatusOr<std::optional<DescriptorChain>> PopChain(memory::GuestMemory& mem);

  // Returns chain `head` to the driver with `written_len` bytes written.
  absl::Status AddUsed(memory::GuestMemory& mem, uint16_t head, uint32_t written_len);

  // Whether the driver wants an interrupt for the used entries added since
  // the last call (VRING_AVAIL_F_NO_INTERRUPT, or used_event with
  // VIRTIO_F_RING_EVENT_IDX). Call once after a batch of AddUsed.
  bool NeedsInterrupt(memory::GuestMemory& mem);

 private:
  absl::StatusOr<uint16_t> ReadAvailIdx(const memory::GuestMemory& mem) const;
  absl::Status ReadChain(const memory::GuestMemory& mem, uint16_t head,
                         DescriptorChain& chain) const;

  uint16_t max_size_;
  uint16_t size_;
  bool ready_ = false;
  bool event_idx_ = false;
  memory::Gpa desc_table_ = 0;
  memory::Gpa avail_ring_ = 0;
  memory::Gpa used_ring_ = 0;
  uint16_t last_avail_idx_ = 0;
  uint16_t next_used_idx_ = 0;
  // The used idx at the last NeedsInterrupt() call; unset until the first.
  std::optional<uint16_t> signalled_used_;
};

}  // namespace virtio

#endif  // VIRTIO_QUEUE_H_
