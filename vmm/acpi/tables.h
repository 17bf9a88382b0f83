// The ACPI tables the guest finds at boot: RSDP -> XSDT -> FADT (-> FACS,
// DSDT) and MADT, built as one blob to copy into guest memory at
// `base_gpa` (the BIOS area, where the kernel also scans for the RSDP).
// They describe exactly the devices in devices/pc_ports.h, the vCPUs, the
// IOAPIC, and each virtio-mmio device (_HID "LNRO0005").
#ifndef VMM_ACPI_TABLES_H_
#define VMM_ACPI_TABLES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace vmm::acpi {

struct MmioDevice {
  uint64_t base;
  uint64_t size;
  uint32_t irq;
};

struct AcpiConfig {
  uint32_t num_cpus = 1;
  std::vector<MmioDevice> virtio_mmio;
  bool pvpanic = true;
};

struct AcpiTables {
  uint64_t base_gpa = 0;
  std::vector<uint8_t> bytes;
  uint64_t rsdp_gpa = 0;
  // Signature and offset in `bytes` of each table, for tests and dumps.
  std::vector<std::pair<std::string, size_t>> offsets;
};

absl::StatusOr<AcpiTables> BuildAcpiTables(const AcpiConfig& config, uint64_t base_gpa,
                                           uint64_t max_size);

// The DSDT body alone (AML), for tests.
std::vector<uint8_t> BuildDsdtAml(const AcpiConfig& config);

}  // namespace vmm::acpi

#endif  // VMM_ACPI_TABLES_H_
