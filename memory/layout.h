// SPDX-License-Identifier: MIT
// The one place that knows the guest-physical map of an x86-64 machine:
// where RAM goes (split around the 32-bit MMIO hole), where the boot
// structures live, and where device windows are placed.
#ifndef MEMORY_LAYOUT_H_
#define MEMORY_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "memory/gpa_range.h"

namespace memory {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kMiB = 1ull << 20;
inline constexpr uint64_t kGiB = 1ull << 30;

// Low memory used by the boot path (all below 1 MiB, inside RAM).
inline constexpr Gpa kGdtAddress = 0x500;
inline constexpr Gpa kBootParamsAddress = 0x7000;
inline constexpr Gpa kPml4Address = 0x9000;   // PML4, PDPT and page directories follow
inline constexpr Gpa kCmdlineAddress = 0x20000;
inline constexpr uint64_t kCmdlineMaxSize = 0x10000;
inline constexpr Gpa kSetupDataAddress = 0x30000;  // boot protocol setup_data list (RNG seed)
inline constexpr Gpa kEbdaStart = 0x9fc00;     // end of usable low RAM
inline constexpr Gpa kBiosRomStart = 0xe0000;  // ACPI tables live here (RSDP scan area)
inline constexpr Gpa kBiosRomEnd = 0x100000;
inline constexpr Gpa kHighMemoryStart = 0x100000;

// The 32-bit MMIO hole: RAM stops here and resumes at 4 GiB.
inline constexpr Gpa kMmioHoleStart = 0xc0000000;
inline constexpr Gpa kMmioHoleEnd = 0x100000000;
// Device windows inside the hole.
inline constexpr Gpa kVirtioMmioBase = 0xd0000000;
inline constexpr uint64_t kVirtioMmioWindowSize = 0x1000;
inline constexpr Gpa kPvpanicMmioAddress = 0xd0800000;
inline constexpr Gpa kIoapicAddress = 0xfec00000;
inline constexpr Gpa kTssAddress = 0xfffbd000;        // KVM_SET_TSS_ADDR (3 pages)
inline constexpr Gpa kIdentityMapAddress = 0xfffbc000;  // KVM_SET_IDENTITY_MAP_ADDR
inline constexpr Gpa kLapicAddress = 0xfee00000;

// Where RAM lies in the guest-physical space: one range per region.
using RamRegion = GpaRange;

// RAM regions for a guest of `ram_size` bytes (a multiple of kPageSize):
// [0, min(size, hole start)) and, for the rest, [4 GiB, ...).
std::vector<RamRegion> RamRegionsForSize(uint64_t ram_size);

enum class E820Type : uint32_t { kRam = 1, kReserved = 2 };
struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;
};

// The e820 map the guest sees: low RAM below the EBDA, the BIOS area
// reserved (it holds the ACPI tables), RAM above 1 MiB, the hole's
// reserved device ranges left out, and RAM above 4 GiB.
std::vector<E820Entry> E820Map(const std::vector<RamRegion>& ram);

}  // namespace memory

#endif  // MEMORY_LAYOUT_H_
