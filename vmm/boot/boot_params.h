// SPDX-License-Identifier: MIT
// Builds the "zero page" (struct boot_params) that the 64-bit Linux boot
// protocol hands the kernel in RSI, plus the command line it points to.
//
// Trust boundary: inputs come from the VMM's own configuration and from the
// kernel image's setup header (untrusted, but only copied through as the
// protocol prescribes). Lengths are checked before anything is written.
#ifndef VMM_BOOT_BOOT_PARAMS_H_
#define VMM_BOOT_BOOT_PARAMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "memory/guest_memory.h"
#include "memory/layout.h"
#include "vmm/boot/initrd.h"

namespace vmm::boot {

// The protocol version we claim for a kernel without a setup header (a bare
// vmlinux): 2.15, so that the kernel reads every field we fill in.
inline constexpr uint16_t kSyntheticBootProtocol = 0x020f;
// Where a relocatable kernel wants to be aligned (CONFIG_PHYSICAL_ALIGN's
// usual value); reported to header-less kernels.
inline constexpr uint32_t kSyntheticKernelAlignment = 0x1000000;
// boot_params.hdr.type_of_loader for a loader without an assigned id.
inline constexpr uint8_t kLoaderTypeUndefined = 0xff;

struct BootParamsInput {
  // LoadedKernel::setup_header: the bzImage's header bytes, if any.
  std::optional<std::vector<uint8_t>> setup_header;
  // Written at memory::kCmdlineAddress with a terminating NUL.
  std::string cmdline;
  std::optional<InitrdPlacement> initrd;
  // From memory::E820Map(); at most E820_MAX_ENTRIES_ZEROPAGE (128) entries.
  std::vector<memory::E820Entry> e820;
  // Guest-physical address of the ACPI RSDP, or 0 to let the kernel scan
  // the BIOS area for it (boot protocol 2.14 field).
  uint64_t acpi_rsdp_addr = 0;
  // Random bytes for the kernel's entropy pool, passed as a SETUP_RNG_SEED
  // setup_data entry at memory::kSetupDataAddress. Empty: no entry. A guest kernel that
  // trusts its boot loader (RANDOM_TRUST_BOOTLOADER) has a ready RNG from
  // its first instruction instead of hashing until interrupts credit it.
  std::vector<uint8_t> rng_seed;
};

// At most this many seed bytes (the entry and the seed share one page).
inline constexpr size_t kMaxRngSeedBytes = 256;

// Writes boot_params at memory::kBootParamsAddress, the command line at
// memory::kCmdlineAddress and the setup_data list at memory::kSetupDataAddress.
// InvalidArgument if the command line is too long (for our buffer or for the
// kernel's cmdline_size) or contains a NUL, if the e820 map has too many
// entries, or if the RNG seed is longer than kMaxRngSeedBytes.
absl::Status WriteBootParams(memory::GuestMemory& mem, const BootParamsInput& input);

}  // namespace vmm::boot

#endif  // VMM_BOOT_BOOT_PARAMS_H_
