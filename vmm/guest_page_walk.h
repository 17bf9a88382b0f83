// SPDX-License-Identifier: MIT
// Translates a guest-virtual address through the guest's own page tables
// (read with checked GuestMemory accesses), so a failed instruction can be
// shown with its bytes. Used only for diagnostics; any malformed table just
// yields an error.
#ifndef VMM_GUEST_PAGE_WALK_H_
#define VMM_GUEST_PAGE_WALK_H_

#include <linux/kvm.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"

namespace vmm {

absl::StatusOr<uint64_t> TranslateGuestVirtual(const memory::GuestMemory& mem,
                                               const kvm_sregs& sregs, uint64_t gva);
// Up to `count` bytes at `gva` as hex ("0f 01 ca"), or why they cannot be read.
std::string GuestBytesAt(const memory::GuestMemory& mem, const kvm_sregs& sregs, uint64_t gva,
                         size_t count);

}  // namespace vmm

#endif  // VMM_GUEST_PAGE_WALK_H_
