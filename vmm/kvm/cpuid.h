// SPDX-License-Identifier: MIT
// The CPUID a vCPU sees: KVM's supported set, adjusted per vCPU (APIC ID,
// topology, hypervisor bit) and, on a PVM host, with the features its
// guest-kernel emulator cannot execute removed (docs/PVM.md).
// Pure functions, so the policy is unit-tested without /dev/kvm.
#ifndef VMM_KVM_CPUID_H_
#define VMM_KVM_CPUID_H_

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace vmm {

struct CpuidOptions {
  uint32_t vcpu_id = 0;
  uint32_t vcpu_count = 1;
  bool pvm_host = false;
};

std::vector<kvm_cpuid_entry2> AdjustCpuid(std::vector<kvm_cpuid_entry2> entries,
                                          const CpuidOptions& options);

// Guest kernel options for PVM hosts only, appended to the command line
// there and nowhere else (see PLATFORM.md): PVM does not honour some CPUID
// bits for instructions its emulator cannot run (xsave, cx16, popcnt, smap)
// or runs slowly (erms, fsrm), and page-table changes are costly under it
// (rodata=off, percpu_alloc=page). bench/benchlib.py gives QEMU the same.
inline constexpr const char* kPvmKernelOptions =
    "noxsave clearcpuid=cx16,popcnt,smap,erms,fsrm rodata=off percpu_alloc=page";

}  // namespace vmm

#endif  // VMM_KVM_CPUID_H_
