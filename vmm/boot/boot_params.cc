// SPDX-License-Identifier: MIT
#include "vmm/boot/boot_params.h"

#include <asm/bootparam.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "vmm/boot/bzimage.h"

namespace vmm::boot {
namespace {

static_assert(sizeof(boot_params) == 4096, "boot_params must be exactly one page");
static_assert(offsetof(boot_params, hdr) == kSetupHeaderOffset);

// Before 2.06 the header has no cmdline_size and the limit was 255.
constexpr uint16_t kCmdlineSizeProtocol = 0x0206;
constexpr uint64_t kLegacyCmdlineMax = 255;

uint32_t Low32(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t High32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

void FillSyntheticHeader(setup_header& hdr) {
  hdr.boot_flag = kBootFlag;
  hdr.header = kSetupHeaderMagic;
  hdr.version = kSyntheticBootProtocol;
  hdr.kernel_alignment = kSyntheticKernelAlignment;
  hdr.initrd_addr_max = static_cast<uint32_t>(kDefaultInitrdAddrMax);
  hdr.cmdline_size = static_cast<uint32_t>(memory::kCmdlineMaxSize - 1);
}

absl::Status WriteCmdline(memory::GuestMemory& mem, const setup_header& hdr,
                          const std::string& cmdline) {
  if (cmdline.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("kernel command line contains a NUL byte");
  }
  // Our buffer holds the NUL too; the kernel's cmdline_size excludes it.
  uint64_t limit = memory::kCmdlineMaxSize - 1;
  uint64_t kernel_limit =
      hdr.version >= kCmdlineSizeProtocol ? uint64_t{hdr.cmdline_size} : kLegacyCmdlineMax;
  limit = std::min(limit, kernel_limit);
  if (cmdline.size() > limit) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel command line is %u bytes; the limit is %u (the kernel's cmdline_size and our "
        "buffer)",
        cmdline.size(), limit));
  }
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(cmdline.c_str()),
                                 cmdline.size() + 1);
  return mem.WriteBytes(memory::kCmdlineAddress, bytes);
}

// struct setup_data without its flexible data[] member.
struct SetupDataHeader {
  uint64_t next;
  uint32_t type;
  uint32_t len;
};
static_assert(sizeof(SetupDataHeader) == offsetof(setup_data, data));

// Returns the value for hdr.setup_data: the list head, or 0 for no list.
// (setup_data came with protocol 2.09; bzimage.cc accepts 2.12 and later.)
absl::StatusOr<uint64_t> WriteSetupData(memory::GuestMemory& mem, const std::vector<uint8_t>& rng_seed) {
  if (rng_seed.size() > kMaxRngSeedBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RNG seed of %u bytes; at most %u", rng_seed.size(), kMaxRngSeedBytes));
  }
  if (rng_seed.empty()) return 0;
  const SetupDataHeader entry{
      .next = 0, .type = SETUP_RNG_SEED, .len = static_cast<uint32_t>(rng_seed.size())};
  RETURN_IF_ERROR(mem.Write(memory::kSetupDataAddress, entry));
  RETURN_IF_ERROR(mem.WriteBytes(memory::kSetupDataAddress + sizeof(entry), rng_seed));
  return memory::kSetupDataAddress;
}

}  // namespace

absl::Status WriteBootParams(memory::GuestMemory& mem, const BootParamsInput& input) {
  // A clean page with only the header copied in, as the protocol asks: the
  // rest of the file's first sector must not leak into boot_params.
  boot_params params{};
  setup_header& hdr = params.hdr;
  if (input.setup_header.has_value()) {
    hdr = SetupHeaderFromBytes(*input.setup_header);
  } else {
    FillSyntheticHeader(hdr);
  }
  if (input.e820.size() > E820_MAX_ENTRIES_ZEROPAGE) {
    return absl::InvalidArgumentError(
        absl::StrFormat("e820 map has %u entries; boot_params holds at most %u", input.e820.size(),
                        E820_MAX_ENTRIES_ZEROPAGE));
  }
  RETURN_IF_ERROR(WriteCmdline(mem, hdr, input.cmdline));

  hdr.type_of_loader = kLoaderTypeUndefined;
  // LOADED_HIGH: the kernel sits at or above 1 MiB. CAN_USE_HEAP and
  // heap_end_ptr are left alone: they only concern the 16-bit setup code,
  // which we never run.
  hdr.loadflags |= LOADED_HIGH;
  // Our own list or none: a pointer copied from the file would be junk.
  ASSIGN_OR_RETURN(hdr.setup_data, WriteSetupData(mem, input.rng_seed));
  hdr.cmd_line_ptr = Low32(memory::kCmdlineAddress);
  params.ext_cmd_line_ptr = High32(memory::kCmdlineAddress);
  if (input.initrd.has_value()) {
    hdr.ramdisk_image = Low32(input.initrd->gpa);
    hdr.ramdisk_size = Low32(input.initrd->size);
    params.ext_ramdisk_image = High32(input.initrd->gpa);
    params.ext_ramdisk_size = High32(input.initrd->size);
  } else {
    hdr.ramdisk_image = 0;
    hdr.ramdisk_size = 0;
  }
  params.acpi_rsdp_addr = input.acpi_rsdp_addr;
  params.e820_entries = static_cast<uint8_t>(input.e820.size());
  for (size_t i = 0; i < input.e820.size(); ++i) {
    params.e820_table[i].addr = input.e820[i].addr;
    params.e820_table[i].size = input.e820[i].size;
    params.e820_table[i].type = static_cast<uint32_t>(input.e820[i].type);
  }
  return mem.Write(memory::kBootParamsAddress, params);
}

}  // namespace vmm::boot
