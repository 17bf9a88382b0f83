// SPDX-License-Identifier: MIT
// The FADT ("FACP") and the FACS it points to. The FADT describes a
// full-hardware (not hardware-reduced) PC: the PM1a event and control
// blocks, the SCI, and the reset register of devices/pc_ports.h.
#ifndef VMM_ACPI_FADT_H_
#define VMM_ACPI_FADT_H_

#include <cstdint>

#include "vmm/acpi/sdt.h"

namespace vmm::acpi {

inline constexpr size_t kFadtSize = 276;  // ACPI 6.x, revision 6
inline constexpr size_t kFacsSize = 64;
inline constexpr uint64_t kFacsAlignment = 64;  // required by the spec

// `dsdt_gpa` and `facs_gpa` must lie below 4 GiB (the 32-bit fields).
Bytes BuildFadt(uint64_t dsdt_gpa, uint64_t facs_gpa);
Bytes BuildFacs();

}  // namespace vmm::acpi

#endif  // VMM_ACPI_FADT_H_
