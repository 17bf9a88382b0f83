// SPDX-License-Identifier: MIT
#include "vmm/guest_page_walk.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace vmm {
namespace {
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4La57 = 1ull << 12;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kPresent = 1;
constexpr uint64_t kLarge = 1ull << 7;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;
}  // namespace

absl::StatusOr<uint64_t> TranslateGuestVirtual(const memory::GuestMemory& mem,
                                               const kvm_sregs& sregs, uint64_t gva) {
  if (!(sregs.cr0 & kCr0Pg)) return gva;
  if (!(sregs.efer & kEferLma) || !(sregs.cr4 & kCr4Pae)) {
    return absl::UnimplementedError("guest is not in long mode");
  }
  int levels = (sregs.cr4 & kCr4La57) ? 5 : 4;
  uint64_t table = sregs.cr3 & kAddressMask;
  for (int level = levels; level >= 1; --level) {
    int shift = 12 + 9 * (level - 1);
    uint64_t index = (gva >> shift) & 0x1ff;
    auto entry = mem.Read<uint64_t>(table + index * 8);
    if (!entry.ok()) return entry.status();
    if (!(*entry & kPresent)) {
      return absl::NotFoundError(absl::StrFormat("0x%x is not mapped (level %d)", gva, level));
    }
    if (level <= 3 && level >= 2 && (*entry & kLarge)) {
      uint64_t page_mask = (1ull << shift) - 1;
      return (*entry & kAddressMask & ~page_mask) | (gva & page_mask);
    }
    table = *entry & kAddressMask;
  }
  return table | (gva & 0xfff);
}

std::string GuestBytesAt(const memory::GuestMemory& mem, const kvm_sregs& sregs, uint64_t gva,
                         size_t count) {
  std::vector<std::string> bytes;
  for (size_t i = 0; i < count; ++i) {
    auto gpa = TranslateGuestVirtual(mem, sregs, gva + i);
    if (!gpa.ok()) {
      if (bytes.empty()) return absl::StrFormat("<unreadable: %s>", gpa.status().message());
      break;
    }
    auto byte = mem.Read<uint8_t>(*gpa);
    if (!byte.ok()) break;
    bytes.push_back(absl::StrFormat("%02x", *byte));
  }
  return absl::StrJoin(bytes, " ");
}

}  // namespace vmm
