// The CPUID a vCPU sees: KVM's supported set, adjusted per vCPU (APIC ID,
// topology, hypervisor bit) and, on a PVM host, with the features its
// guest-kernel emulator cannot execute removed (shared/PLATFORM.md).
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

// Guest kernel options a PVM host needs because it does not honour some
// CPUID bits (see PLATFORM.md); appended to the command line on PVM only.
inline constexpr const char* kPvmKernelOptions =
    "noxsave clearcpuid=cx16,popcnt,smap,erms,fsrm";

}  // namespace vmm

#endif  // VMM_KVM_CPUID_H_
