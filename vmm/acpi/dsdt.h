// SPDX-License-Identifier: MIT
// The DSDT: \_S5 for soft-off through the PM1a control block, and under
// \_SB the devices Linux cannot probe on its own: COM1, each virtio-mmio
// window (_HID "LNRO0005", the virtio_mmio driver's ACPI match) and the
// pvpanic port (_HID "QEMU0001"). The i8042 is deliberately not described
// (see fadt.cc).
#ifndef VMM_ACPI_DSDT_H_
#define VMM_ACPI_DSDT_H_

#include "vmm/acpi/acpi_config.h"
#include "vmm/acpi/sdt.h"

namespace vmm::acpi {

// The AML body alone. `config` must have passed ValidateAcpiConfig().
Bytes BuildDsdtAml(const AcpiConfig& config);
// The whole table: header + AML.
Bytes BuildDsdt(const AcpiConfig& config);

}  // namespace vmm::acpi

#endif  // VMM_ACPI_DSDT_H_
