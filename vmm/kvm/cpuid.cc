// SPDX-License-Identifier: MIT
#include "vmm/kvm/cpuid.h"

namespace vmm {
namespace {

// Leaf 1
constexpr uint32_t kEcxCx16 = 1u << 13;
constexpr uint32_t kEcxPopcnt = 1u << 23;
constexpr uint32_t kEcxXsave = 1u << 26;
constexpr uint32_t kEcxOsxsave = 1u << 27;
constexpr uint32_t kEcxAvx = 1u << 28;
constexpr uint32_t kEcxHypervisor = 1u << 31;
constexpr uint32_t kEdxHtt = 1u << 28;
// Leaf 7, subleaf 0
constexpr uint32_t kEbxErms = 1u << 9;
constexpr uint32_t kEbxSmap = 1u << 20;
constexpr uint32_t kEbxAvx2 = 1u << 5;
constexpr uint32_t kEbxAvx512F = 1u << 16;
constexpr uint32_t kEdxFsrm = 1u << 4;
// KVM paravirt features (leaf 0x40000001 EAX), whose hypercalls (vmcall)
// PVM's emulator cannot run.
constexpr uint32_t kKvmFeaturePvUnhalt = 1u << 7;
constexpr uint32_t kKvmFeaturePvSendIpi = 1u << 11;
constexpr uint32_t kKvmFeaturePvSchedYield = 1u << 13;

}  // namespace

std::vector<kvm_cpuid_entry2> AdjustCpuid(std::vector<kvm_cpuid_entry2> entries,
                                          const CpuidOptions& options) {
  for (kvm_cpuid_entry2& e : entries) {
    switch (e.function) {
      case 1:
        e.ecx |= kEcxHypervisor;
        // EBX[31:24] initial APIC ID, [23:16] logical processors per package.
        e.ebx = (e.ebx & 0x0000ffff) | (options.vcpu_id << 24) | ((options.vcpu_count & 0xff) << 16);
        if (options.vcpu_count > 1) e.edx |= kEdxHtt;
        if (options.pvm_host) {
          // XSAVE gone means AVX (whose state needs XSAVE) must go too.
          e.ecx &= ~(kEcxCx16 | kEcxPopcnt | kEcxXsave | kEcxOsxsave | kEcxAvx);
        }
        break;
      case 7:
        if (e.index == 0 && options.pvm_host) {
          e.ebx &= ~(kEbxErms | kEbxSmap | kEbxAvx2 | kEbxAvx512F);
          e.edx &= ~kEdxFsrm;
        }
        break;
      case 0xb:
      case 0x1f:
        // Extended topology: the x2APIC ID of this vCPU.
        e.edx = options.vcpu_id;
        break;
      case 0xd:
        if (options.pvm_host) {
          // No XSAVE: no extended state to enumerate.
          e.eax = e.ebx = e.ecx = e.edx = 0;
        }
        break;
      case 0x40000001:
        if (options.pvm_host) {
          e.eax &= ~(kKvmFeaturePvUnhalt | kKvmFeaturePvSendIpi | kKvmFeaturePvSchedYield);
        }
        break;
      default:
        break;
    }
  }
  return entries;
}

}  // namespace vmm
