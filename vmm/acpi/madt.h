// SPDX-License-Identifier: MIT
// The MADT ("APIC"): one local APIC per vCPU, the IOAPIC, the ISA
// interrupt overrides and the LINT1 NMI, matching KVM's in-kernel irqchip
// (KVM_CREATE_IRQCHIP). The kernel takes its CPU list from here: with
// CONFIG_X86_MPPARSE off there is no other source.
#ifndef VMM_ACPI_MADT_H_
#define VMM_ACPI_MADT_H_

#include <cstdint>

#include "vmm/acpi/sdt.h"

namespace vmm::acpi {

// APIC IDs are 8 bits and 0xff is the xAPIC broadcast ID.
inline constexpr uint32_t kMaxCpus = 255;
// KVM's in-kernel IOAPIC has 24 pins, GSIs 0-23.
inline constexpr uint32_t kIoapicPins = 24;

// vCPU i gets APIC ID i and ACPI processor UID i. 1 <= num_cpus <= kMaxCpus.
Bytes BuildMadt(uint32_t num_cpus);

}  // namespace vmm::acpi

#endif  // VMM_ACPI_MADT_H_
