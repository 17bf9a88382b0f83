// SPDX-License-Identifier: MIT
#include "virtio/testing/fake_driver.h"

#include "virtio/virtio_ring_uapi.h"

#include <cstdlib>

#include "absl/strings/str_format.h"

namespace virtio {
namespace {

uint64_t AlignUp(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

void Check(const absl::Status& status) {
  // A test fixture bug, not a case under test.
  if (!status.ok()) {
    fprintf(stderr, "FakeDriver: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
}

}  // namespace

FakeDriver::FakeDriver(memory::GuestMemory& mem, memory::Gpa base, uint16_t size)
    : mem_(mem), size_(size) {
  desc_ = base;
  avail_ = AlignUp(desc_ + 16ull * size, 4096);
  used_ = AlignUp(avail_ + 6 + 2ull * size, 4096);
  std::vector<uint8_t> zeros(Footprint(size), 0);
  Check(mem_.WriteBytes(base, zeros));
}

uint64_t FakeDriver::Footprint(uint16_t size) {
  uint64_t avail = AlignUp(16ull * size, 4096);
  uint64_t used = AlignUp(avail + 6 + 2ull * size, 4096);
  return AlignUp(used + 6 + 8ull * size, 4096);
}

void FakeDriver::Configure(Queue& queue, bool event_idx) const {
  queue.set_size(size_);
  queue.set_desc_table(desc_);
  queue.set_avail_ring(avail_);
  queue.set_used_ring(used_);
  queue.set_event_idx(event_idx);
  Check(queue.MakeReady(mem_));
}

void FakeDriver::WriteDescAt(memory::Gpa gpa, uint64_t addr, uint32_t len, uint16_t flags,
                             uint16_t next) {
  vring_desc desc{};
  desc.addr = addr;
  desc.len = len;
  desc.flags = flags;
  desc.next = next;
  Check(mem_.Write(gpa, desc));
}

void FakeDriver::WriteDesc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                           uint16_t next) {
  WriteDescAt(desc_ + 16ull * index, addr, len, flags, next);
}

uint16_t FakeDriver::AddChain(std::span<const Buffer> buffers) {
  uint16_t head = next_free_;
  for (size_t i = 0; i < buffers.size(); ++i) {
    uint16_t index = next_free_;
    next_free_ = (next_free_ + 1) % size_;
    bool last = i + 1 == buffers.size();
    uint16_t flags = (buffers[i].writable ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT);
    WriteDesc(index, buffers[i].gpa, buffers[i].len, flags, last ? 0 : next_free_);
  }
  PublishHead(head);
  return head;
}

uint16_t FakeDriver::AddIndirectChain(std::span<const Buffer> buffers, memory::Gpa table) {
  for (size_t i = 0; i < buffers.size(); ++i) {
    bool last = i + 1 == buffers.size();
    uint16_t flags = (buffers[i].writable ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT);
    WriteDescAt(table + 16 * i, buffers[i].gpa, buffers[i].len, flags,
                last ? 0 : static_cast<uint16_t>(i + 1));
  }
  uint16_t head = next_free_;
  next_free_ = (next_free_ + 1) % size_;
  WriteDesc(head, table, static_cast<uint32_t>(16 * buffers.size()), VRING_DESC_F_INDIRECT, 0);
  PublishHead(head);
  return head;
}

void FakeDriver::PublishHead(uint16_t head) {
  Check(mem_.Write<uint16_t>(avail_ + 4 + 2ull * (avail_idx_ % size_), head));
  SetAvailIdx(avail_idx_ + 1);
}

void FakeDriver::SetAvailIdx(uint16_t idx) {
  avail_idx_ = idx;
  Check(mem_.Write<uint16_t>(avail_ + 2, idx));
}

void FakeDriver::SetAvailFlags(uint16_t flags) { Check(mem_.Write<uint16_t>(avail_, flags)); }

void FakeDriver::SetUsedEvent(uint16_t idx) {
  Check(mem_.Write<uint16_t>(avail_ + 4 + 2ull * size_, idx));
}

uint16_t FakeDriver::UsedIdx() const { return *mem_.Read<uint16_t>(used_ + 2); }

FakeDriver::Used FakeDriver::UsedAt(uint16_t slot) const {
  return *mem_.Read<Used>(used_ + 4 + 8ull * (slot % size_));
}

uint16_t FakeDriver::AvailEvent() const { return *mem_.Read<uint16_t>(used_ + 4 + 8ull * size_); }

}  // namespace virtio
