// SPDX-License-Identifier: MIT
// Places an initrd (initramfs) in guest RAM the way a boot loader does: as
// high as allowed, page aligned, above the kernel, and read straight from
// the file into guest memory with no intermediate copy.
#ifndef VMM_BOOT_INITRD_H_
#define VMM_BOOT_INITRD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "memory/guest_memory.h"

namespace vmm::boot {

// What boot protocols before 2.03 allow, and what we assume for a kernel
// without a setup header (a bare vmlinux).
inline constexpr uint64_t kDefaultInitrdAddrMax = 0x37ffffff;

struct InitrdPlacement {
  uint64_t gpa = 0;
  uint64_t size = 0;
};

// The highest address (inclusive) the initrd may occupy for a kernel with
// this setup header (LoadedKernel::setup_header), or the default without.
// Even a kernel that sets XLF_CAN_BE_LOADED_ABOVE_4G gets its initrd below
// 4 GiB: low RAM is plenty and every kernel can reach it.
uint64_t InitrdAddrMax(const std::optional<std::vector<uint8_t>>& header_bytes);

// Loads the file at `path` into the RAM region that holds 1 MiB, ending at or
// below min(initrd_addr_max + 1, end of that region), starting at or above
// `kernel_end` rounded up to a page. Fails with ResourceExhausted if it does
// not fit, NotFound/InvalidArgument for a missing or empty file.
absl::StatusOr<InitrdPlacement> LoadInitrd(absl::string_view path, memory::GuestMemory& mem,
                                           uint64_t initrd_addr_max, uint64_t kernel_end);

}  // namespace vmm::boot

#endif  // VMM_BOOT_INITRD_H_
