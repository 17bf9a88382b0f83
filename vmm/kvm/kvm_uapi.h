// SPDX-License-Identifier: MIT
// C layouts of the KVM structs that end in a flexible array.
//
// <linux/kvm.h> declares those arrays with __DECLARE_FLEX_ARRAY, which in
// C++ wraps them next to an empty struct; an empty struct has size 1 in C++,
// so sizeof() and the array offset differ from the kernel's C layout, and
// the ioctl numbers (which encode sizeof) come out wrong (EINVAL). These
// fixed-capacity structs have the kernel's layout, and the ioctl numbers
// are rebuilt from the C header sizes.
#ifndef VMM_KVM_KVM_UAPI_H_
#define VMM_KVM_KVM_UAPI_H_

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

namespace vmm {

inline constexpr size_t kMaxCpuidEntries = 256;  // KVM_MAX_CPUID_ENTRIES
inline constexpr size_t kMaxMsrEntries = 1024;

struct KvmCpuid2 {
  uint32_t nent;
  uint32_t padding;
  kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};
struct KvmMsrs {
  uint32_t nmsrs;
  uint32_t pad;
  kvm_msr_entry entries[kMaxMsrEntries];
};
struct KvmMsrList {
  uint32_t nmsrs;
  uint32_t indices[kMaxMsrEntries];
};
static_assert(offsetof(KvmCpuid2, entries) == 8);
static_assert(offsetof(KvmMsrs, entries) == 8);
static_assert(offsetof(KvmMsrList, indices) == 4);

// The C structs' fixed parts, whose sizes the ioctl numbers encode.
struct KvmCpuid2Header {
  uint32_t nent;
  uint32_t padding;
};
struct KvmMsrsHeader {
  uint32_t nmsrs;
  uint32_t pad;
};

inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmCpuid2Header);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmCpuid2Header);
inline constexpr unsigned long kKvmGetCpuid2 = _IOWR(KVMIO, 0x91, KvmCpuid2Header);
inline constexpr unsigned long kKvmGetMsrIndexList = _IOWR(KVMIO, 0x02, uint32_t);
inline constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmMsrsHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmMsrsHeader);

// kvm_xsave ends in a flexible array too (used only by KVM_GET_XSAVE2);
// the legacy 4 KiB area is all KVM_GET/SET_XSAVE move.
struct KvmXsave {
  uint32_t region[1024];
};
inline constexpr unsigned long kKvmGetXsave = _IOR(KVMIO, 0xa4, KvmXsave);
inline constexpr unsigned long kKvmSetXsave = _IOW(KVMIO, 0xa5, KvmXsave);

}  // namespace vmm

#endif  // VMM_KVM_KVM_UAPI_H_
