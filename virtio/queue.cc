// SPDX-License-Identifier: MIT
#include "virtio/queue.h"

#include "virtio/virtio_ring_uapi.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace virtio {
namespace {

// Ring layouts are computed by hand: the UAPI vring_avail/vring_used end in
// flexible arrays, which have no well-defined size in C++. All fields are
// little-endian; this VMM runs only on little-endian hosts (x86-64).
static_assert(std::endian::native == std::endian::little);
static_assert(sizeof(vring_desc) == 16);

constexpr uint64_t kDescSize = sizeof(vring_desc);
// avail: le16 flags, le16 idx, le16 ring[size], le16 used_event.
constexpr uint64_t kAvailFlags = 0;
constexpr uint64_t kAvailIdx = 2;
constexpr uint64_t kAvailRing = 4;
// used: le16 flags, le16 idx, {le32 id, le32 len} ring[size], le16 avail_event.
constexpr uint64_t kUsedIdx = 2;
constexpr uint64_t kUsedRing = 4;
constexpr uint64_t kUsedElemSize = 8;

uint64_t AvailRingBytes(uint16_t size) { return kAvailRing + 2ull * size + 2; }
uint64_t UsedRingBytes(uint16_t size) { return kUsedRing + kUsedElemSize * size + 2; }

struct UsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(UsedElem) == kUsedElemSize);

}  // namespace

Queue::Queue(uint16_t max_size) : max_size_(max_size), size_(max_size) {}

void Queue::Reset() { *this = Queue(max_size_); }

Queue::Snapshot Queue::Save() const {
  return Snapshot{.size = size_,
                  .last_avail_idx = last_avail_idx_,
                  .next_used_idx = next_used_idx_,
                  .signalled_used = signalled_used_.value_or(0),
                  .ready = ready_,
                  .event_idx = event_idx_,
                  .has_signalled_used = signalled_used_.has_value(),
                  .reserved = {},
                  .desc_table = desc_table_,
                  .avail_ring = avail_ring_,
                  .used_ring = used_ring_};
}

absl::Status Queue::Restore(const Snapshot& s, const memory::GuestMemory& mem) {
  Reset();
  // A queue that is not ready holds whatever QueueNum the driver wrote (up
  // to kMaxSize, as the transport stores it; 0 included, which MakeReady
  // refuses as the source would); MakeReady checks it when the driver
  // enables the queue, and below for a ready one.
  if (s.size > kMaxSize) {
    return absl::DataLossError(absl::StrFormat("saved queue size %u is above %u", s.size, kMaxSize));
  }
  size_ = s.size;
  desc_table_ = s.desc_table;
  avail_ring_ = s.avail_ring;
  used_ring_ = s.used_ring;
  event_idx_ = s.event_idx != 0;
  if (s.ready) {
    if (absl::Status st = MakeReady(mem); !st.ok()) {
      Reset();
      return absl::DataLossError(absl::StrCat("saved queue: ", st.message()));
    }
  }
  last_avail_idx_ = s.last_avail_idx;
  next_used_idx_ = s.next_used_idx;
  if (s.has_signalled_used) signalled_used_ = s.signalled_used;
  return absl::OkStatus();
}

absl::Status Queue::MakeReady(const memory::GuestMemory& mem) {
  if (size_ == 0 || size_ > max_size_ || !std::has_single_bit(size_)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("queue size %u is not a power of two <= %u", size_, max_size_));
  }
  if (desc_table_ % VRING_DESC_ALIGN_SIZE != 0 || avail_ring_ % VRING_AVAIL_ALIGN_SIZE != 0 ||
      used_ring_ % VRING_USED_ALIGN_SIZE != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "queue rings misaligned: desc 0x%x avail 0x%x used 0x%x", desc_table_, avail_ring_,
        used_ring_));
  }
  // The event fields are included whether or not EVENT_IDX is negotiated:
  // the driver always allocates them, and checking once here means no later
  // access to a fixed ring offset can fail.
  if (!mem.IsValidRange(desc_table_, kDescSize * size_) ||
      !mem.IsValidRange(avail_ring_, AvailRingBytes(size_)) ||
      !mem.IsValidRange(used_ring_, UsedRingBytes(size_))) {
    return absl::OutOfRangeError(absl::StrFormat(
        "queue rings outside guest RAM: desc 0x%x avail 0x%x used 0x%x (size %u)", desc_table_,
        avail_ring_, used_ring_, size_));
  }
  ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<uint16_t> Queue::ReadAvailIdx(const memory::GuestMemory& mem) const {
  ASSIGN_OR_RETURN(uint16_t idx, mem.Read<uint16_t>(avail_ring_ + kAvailIdx));
  // Pairs with the driver's write barrier between filling the ring entry and
  // publishing idx: ring entries are read only after idx.
  std::atomic_thread_fence(std::memory_order_acquire);
  return idx;
}

absl::StatusOr<std::optional<DescriptorChain>> Queue::PopChain(memory::GuestMemory& mem) {
  if (!ready_) return absl::FailedPreconditionError("queue is not ready");
  ASSIGN_OR_RETURN(uint16_t avail_idx, ReadAvailIdx(mem));
  if (avail_idx == last_avail_idx_ && event_idx_) {
    // Ask to be notified at the next addition, then look again: a chain
    // added between the first read and the avail_event write would
    // otherwise neither be seen nor notified.
    RETURN_IF_ERROR(mem.Write<uint16_t>(used_ring_ + kUsedRing + kUsedElemSize * size_,
                                        last_avail_idx_));
    std::atomic_thread_fence(std::memory_order_seq_cst);
    ASSIGN_OR_RETURN(avail_idx, ReadAvailIdx(mem));
  }
  // Unsigned 16-bit arithmetic: the indices wrap.
  uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_idx_);
  if (pending == 0) return std::nullopt;
  if (pending > size_) {
    return absl::DataLossError(absl::StrFormat(
        "avail idx moved from %u to %u, more than the queue size %u", last_avail_idx_, avail_idx,
        size_));
  }
  // size_ is a power of two, so the modulo agrees across the 16-bit wrap.
  uint64_t slot = last_avail_idx_ % size_;
  ASSIGN_OR_RETURN(uint16_t head, mem.Read<uint16_t>(avail_ring_ + kAvailRing + 2 * slot));
  ++last_avail_idx_;

  DescriptorChain chain;
  chain.head = head;
  RETURN_IF_ERROR(ReadChain(mem, head, chain));
  return chain;
}

absl::Status Queue::ReadChain(const memory::GuestMemory& mem, uint16_t head,
                              DescriptorChain& chain) const {
  memory::Gpa table = desc_table_;
  uint32_t table_entries = size_;
  bool in_indirect = false;
  bool seen_writable = false;
  // The spec forbids chains longer than the queue size; an indirect table
  // restarts the count at its own length. Each step consumes one unit, so
  // a loop runs out of budget.
  uint32_t budget = size_;
  uint32_t index = head;
  while (true) {
    if (index >= table_entries) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "descriptor index %u out of range (%u entries%s)", index, table_entries,
          in_indirect ? ", indirect" : ""));
    }
    if (budget == 0) return absl::InvalidArgumentError("descriptor chain too long or looping");
    --budget;

    // The one read of this descriptor; only `desc` is used from here on.
    ASSIGN_OR_RETURN(vring_desc desc, mem.Read<vring_desc>(table + kDescSize * index));
    const uint16_t flags = desc.flags;

    if (flags & VRING_DESC_F_INDIRECT) {
      if (in_indirect) return absl::InvalidArgumentError("nested indirect descriptor");
      if (flags & VRING_DESC_F_NEXT) {
        return absl::InvalidArgumentError("indirect descriptor with NEXT set");
      }
      if (desc.len == 0 || desc.len % kDescSize != 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("indirect table length %u is not a multiple of 16", desc.len));
      }
      if (!mem.IsValidRange(desc.addr, desc.len)) {
        return absl::OutOfRangeError(absl::StrFormat(
            "indirect table [0x%x, +0x%x) outside guest RAM", desc.addr, desc.len));
      }
      table = desc.addr;
      table_entries = desc.len / kDescSize;
      // Capped by the queue size as well, so a huge table cannot make the
      // host allocate without bound.
      budget = std::min<uint32_t>(table_entries, size_);
      in_indirect = true;
      index = 0;
      continue;
    }

    const bool writable = flags & VRING_DESC_F_WRITE;
    if (!mem.IsValidRange(desc.addr, desc.len)) {
      return absl::OutOfRangeError(
          absl::StrFormat("buffer [0x%x, +0x%x) outside guest RAM", desc.addr, desc.len));
    }
    // The spec puts device-writable buffers after all readable ones; a
    // device parsing requests relies on that split.
    if (seen_writable && !writable) {
      return absl::InvalidArgumentError("device-readable buffer after a writable one");
    }
    seen_writable |= writable;
    chain.descriptors.push_back({desc.addr, desc.len, writable});

    if (!(flags & VRING_DESC_F_NEXT)) return absl::OkStatus();
    index = desc.next;
  }
}

absl::Status Queue::AddUsed(memory::GuestMemory& mem, uint16_t head, uint32_t written_len) {
  if (!ready_) return absl::FailedPreconditionError("queue is not ready");
  if (head >= size_) {
    return absl::InvalidArgumentError(absl::StrFormat("used head %u >= size %u", head, size_));
  }
  uint64_t slot = next_used_idx_ % size_;
  RETURN_IF_ERROR(mem.Write<UsedElem>(used_ring_ + kUsedRing + kUsedElemSize * slot,
                                      UsedElem{head, written_len}));
  ++next_used_idx_;
  // The driver reads the element only after it sees the new idx.
  std::atomic_thread_fence(std::memory_order_release);
  return mem.Write<uint16_t>(used_ring_ + kUsedIdx, next_used_idx_);
}

bool Queue::NeedsInterrupt(memory::GuestMemory& mem) {
  if (!ready_) return false;
  // Order the used idx store before reading the driver's suppression
  // fields; otherwise both sides could miss each other's update.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    auto flags = mem.Read<uint16_t>(avail_ring_ + kAvailFlags);
    // Ranges were validated in MakeReady; interrupt when unsure.
    return !flags.ok() || !(*flags & VRING_AVAIL_F_NO_INTERRUPT);
  }
  const uint16_t new_idx = next_used_idx_;
  const std::optional<uint16_t> old_idx = std::exchange(signalled_used_, new_idx);
  auto used_event = mem.Read<uint16_t>(avail_ring_ + kAvailRing + 2ull * size_);
  if (!used_event.ok() || !old_idx.has_value()) return true;
  // vring_need_event(): interrupt iff used_event lies in (old, new].
  return static_cast<uint16_t>(new_idx - *used_event - 1) <
         static_cast<uint16_t>(new_idx - *old_idx);
}

}  // namespace virtio
