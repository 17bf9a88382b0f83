// SPDX-License-Identifier: MIT
// What the ACPI tables describe beyond the fixed PC devices of
// devices/pc_ports.h: the vCPU count and the virtio-mmio devices. Filled in
// by the VMM from its own configuration; validated by BuildAcpiTables().
#ifndef VMM_ACPI_ACPI_CONFIG_H_
#define VMM_ACPI_ACPI_CONFIG_H_

#include <cstdint>
#include <vector>

namespace vmm::acpi {

// One virtio-mmio register window and the IOAPIC pin (GSI) it signals.
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

}  // namespace vmm::acpi

#endif  // VMM_ACPI_ACPI_CONFIG_H_
