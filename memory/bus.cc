// SPDX-License-Identifier: MIT
#include "memory/bus.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace memory {

absl::Status Bus::Insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device) {
  if (size == 0) return absl::InvalidArgumentError(name_ + " bus: empty range");
  if (base + size < base) {
    return absl::InvalidArgumentError(absl::StrFormat("%s bus: range 0x%x+0x%x overflows", name_, base, size));
  }
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + size) {
    return absl::AlreadyExistsError(absl::StrFormat("%s bus: 0x%x+0x%x overlaps 0x%x", name_, base, size, next->first));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > base) {
      return absl::AlreadyExistsError(absl::StrFormat("%s bus: 0x%x+0x%x overlaps 0x%x", name_, base, size, prev->first));
    }
  }
  ranges_.emplace(base, Entry{size, std::move(device)});
  return absl::OkStatus();
}

const std::pair<const uint64_t, Bus::Entry>* Bus::Find(uint64_t address, uint64_t length) const {
  auto it = ranges_.upper_bound(address);
  if (it == ranges_.begin()) return nullptr;
  --it;
  uint64_t offset = address - it->first;
  if (offset >= it->second.size || length > it->second.size - offset) return nullptr;
  return &*it;
}

bool Bus::Read(uint64_t address, std::span<uint8_t> data) const {
  const auto* entry = Find(address, data.size());
  if (entry == nullptr) {
    std::fill(data.begin(), data.end(), 0xff);
    return false;
  }
  entry->second.device->Read(address - entry->first, data);
  return true;
}

bool Bus::Write(uint64_t address, std::span<const uint8_t> data) const {
  const auto* entry = Find(address, data.size());
  if (entry == nullptr) return false;
  entry->second.device->Write(address - entry->first, data);
  return true;
}

}  // namespace memory
