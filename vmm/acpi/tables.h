// SPDX-License-Identifier: MIT
// The ACPI tables the guest finds at boot: RSDP -> XSDT -> FADT (-> FACS,
// DSDT) and MADT, built as one blob to copy into guest memory at
// `base_gpa`. The VMM places it in the BIOS area (memory::kBiosRomStart),
// where the kernel's RSDP scan also looks, and passes rsdp_gpa in
// boot_params. The tables describe exactly the devices of
// devices/pc_ports.h, the vCPUs, the IOAPIC, and each virtio-mmio device.
#ifndef VMM_ACPI_TABLES_H_
#define VMM_ACPI_TABLES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vmm/acpi/acpi_config.h"

namespace vmm::acpi {

// Where one table lies in AcpiTables::bytes.
struct TableLocation {
  std::string signature;  // "RSDP", "FACS", "DSDT", "FACP", "APIC", "XSDT"
  size_t offset;
  size_t length;
};

struct AcpiTables {
  uint64_t base_gpa = 0;
  std::vector<uint8_t> bytes;  // to be copied to guest memory at base_gpa
  uint64_t rsdp_gpa = 0;
  std::vector<TableLocation> tables;
};

// The largest virtio-mmio list the DSDT can name ("VR00".."VRFF").
inline constexpr size_t kMaxVirtioMmioDevices = 256;

// Rejects what the tables cannot describe or would describe wrongly: no or
// too many vCPUs, windows beyond 4 GiB (Memory32Fixed), IRQs outside the
// IOAPIC, shared with each other or with COM1, the timer or the SCI.
absl::Status ValidateAcpiConfig(const AcpiConfig& config);

// `base_gpa` must be 16-byte aligned (the RSDP scan step) and the blob must
// end below 4 GiB (the FADT's 32-bit pointers). Fails with
// ResourceExhausted if the tables need more than `max_size` bytes.
absl::StatusOr<AcpiTables> BuildAcpiTables(const AcpiConfig& config, uint64_t base_gpa,
                                           uint64_t max_size);

// Each table as its own byte string, keyed by signature (RSDP first), for
// dumping to files ("FACP.aml") that tools such as `iasl -d` read.
std::vector<std::pair<std::string, std::vector<uint8_t>>> TablesForDump(const AcpiTables& tables);

}  // namespace vmm::acpi

#endif  // VMM_ACPI_TABLES_H_
