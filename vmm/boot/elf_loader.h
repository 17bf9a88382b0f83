// SPDX-License-Identifier: MIT
// Loads an x86-64 ELF kernel (vmlinux) into guest memory at the physical
// addresses its program headers name, and finds its entry points: the
// 64-bit boot protocol entry (startup_64) and, if the kernel was built with
// CONFIG_PVH, the PVH entry from its Xen ELF note.
//
// Trust boundary: the ELF image is untrusted. Every header, offset and size
// is validated (inside the file, inside guest RAM, no overflow, no overlap)
// before a single byte is written to the guest.
#ifndef VMM_BOOT_ELF_LOADER_H_
#define VMM_BOOT_ELF_LOADER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"

namespace vmm::boot {

// The ELF note type (owner "Xen") holding the 32-bit PVH entry point; from
// Xen's public/elfnote.h, which no UAPI header carries.
inline constexpr uint32_t kXenElfNotePhys32Entry = 18;

struct LoadedKernel {
  // Guest-physical address of the 64-bit entry (startup_64): enter in long
  // mode with RSI pointing at boot_params.
  uint64_t entry_64 = 0;
  // Guest-physical 32-bit PVH entry, when the kernel has the note.
  std::optional<uint64_t> pvh_entry;
  // [load_start, load_end): the guest-physical range the kernel occupies,
  // bss included. Anything placed after it (the initrd) goes above load_end.
  uint64_t load_start = 0;
  uint64_t load_end = 0;
  // The bzImage's setup header bytes (see BzImage::header_bytes), when the
  // kernel came from a bzImage; boot_params.hdr is filled from them.
  std::optional<std::vector<uint8_t>> setup_header;
};

// Validates `elf` as an x86-64 executable and copies its PT_LOAD segments
// into `mem`, zero-filling each segment's tail (bss). Nothing is written
// unless every segment is valid. setup_header is left empty.
absl::StatusOr<LoadedKernel> LoadElfKernel(std::span<const uint8_t> elf, memory::GuestMemory& mem);

}  // namespace vmm::boot

#endif  // VMM_BOOT_ELF_LOADER_H_
