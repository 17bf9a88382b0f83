// SPDX-License-Identifier: MIT
// The x86-64 CPU state a Linux kernel expects at its 64-bit entry point
// (boot protocol, "64-bit boot protocol"): long mode, identity-mapped page
// tables, flat GDT, RSI = boot_params. Builders here are pure (they write
// guest memory or return structs) so tests can check every bit.
#ifndef VMM_KVM_X86_CPU_SETUP_H_
#define VMM_KVM_X86_CPU_SETUP_H_

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "memory/guest_memory.h"

namespace vmm {

// Identity map of the first 4 GiB with 2 MiB pages: PML4 at kPml4Address,
// then one PDPT, then four page directories.
absl::Status WriteIdentityPageTables(memory::GuestMemory& mem);
// Null, 64-bit code (0x08), data (0x10), TSS (0x18) descriptors at kGdtAddress.
absl::Status WriteBootGdt(memory::GuestMemory& mem);

inline constexpr uint16_t kBootCodeSelector = 0x08;
inline constexpr uint16_t kBootDataSelector = 0x10;
inline constexpr uint16_t kBootTssSelector = 0x18;
inline constexpr uint64_t kBootStackPointer = 0x8ff0;

kvm_sregs LongModeSregs(kvm_sregs base);
kvm_regs BootRegs(uint64_t entry, uint64_t boot_params);
kvm_fpu BootFpu();
std::vector<kvm_msr_entry> BootMsrs();
// LINT0 = ExtINT (the PIC's output), LINT1 = NMI, as firmware leaves them.
kvm_lapic_state ConfigureLapicLints(kvm_lapic_state lapic);

}  // namespace vmm

#endif  // VMM_KVM_X86_CPU_SETUP_H_
