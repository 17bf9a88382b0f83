// SPDX-License-Identifier: MIT
#include "vmm/kvm/cpuid.h"

#include <gtest/gtest.h>

namespace vmm {
namespace {

kvm_cpuid_entry2 Entry(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                       uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

const kvm_cpuid_entry2* Find(const std::vector<kvm_cpuid_entry2>& v, uint32_t f, uint32_t i = 0) {
  for (const auto& e : v) {
    if (e.function == f && e.index == i) return &e;
  }
  return nullptr;
}

std::vector<kvm_cpuid_entry2> HostLike() {
  return {Entry(1, 0, 0, 0x00000800, 0xffffffff & ~(1u << 31), 0xffffffff),
          Entry(7, 0, 0, 0xffffffff, 0, 0xffffffff), Entry(0xb, 0, 1, 1, 0x100, 0),
          Entry(0xd, 0, 7, 0x340, 0x340, 0), Entry(0x40000001, 0, 0xffffffff, 0, 0, 0)};
}

TEST(Cpuid, SetsApicIdTopologyAndHypervisorBit) {
  auto out = AdjustCpuid(HostLike(), {.vcpu_id = 3, .vcpu_count = 4, .pvm_host = false});
  const auto* leaf1 = Find(out, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ebx >> 24, 3u);
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 4u);
  EXPECT_EQ(leaf1->ebx & 0xffff, 0x0800u);  // brand/CLFLUSH fields kept
  EXPECT_TRUE(leaf1->ecx & (1u << 31));
  EXPECT_EQ(Find(out, 0xb)->edx, 3u);
}

TEST(Cpuid, HardwareHostKeepsFeatures) {
  auto out = AdjustCpuid(HostLike(), {.pvm_host = false});
  EXPECT_TRUE(Find(out, 1)->ecx & (1u << 13));   // CX16
  EXPECT_TRUE(Find(out, 1)->ecx & (1u << 26));   // XSAVE
  EXPECT_TRUE(Find(out, 7)->ebx & (1u << 20));   // SMAP
  EXPECT_EQ(Find(out, 0x40000001)->eax, 0xffffffffu);
}

TEST(Cpuid, PvmHostHidesWhatItsEmulatorCannotRun) {
  auto out = AdjustCpuid(HostLike(), {.pvm_host = true});
  const auto* leaf1 = Find(out, 1);
  EXPECT_FALSE(leaf1->ecx & (1u << 13));  // CX16
  EXPECT_FALSE(leaf1->ecx & (1u << 23));  // POPCNT
  EXPECT_FALSE(leaf1->ecx & (1u << 26));  // XSAVE
  EXPECT_FALSE(leaf1->ecx & (1u << 27));  // OSXSAVE
  const auto* leaf7 = Find(out, 7);
  EXPECT_FALSE(leaf7->ebx & (1u << 20));  // SMAP
  EXPECT_FALSE(leaf7->ebx & (1u << 9));   // ERMS
  EXPECT_FALSE(leaf7->edx & (1u << 4));   // FSRM
  EXPECT_EQ(Find(out, 0xd)->eax, 0u);
  uint32_t kvm = Find(out, 0x40000001)->eax;
  EXPECT_FALSE(kvm & (1u << 7));   // PV_UNHALT
  EXPECT_FALSE(kvm & (1u << 11));  // PV_SEND_IPI
  EXPECT_FALSE(kvm & (1u << 13));  // PV_SCHED_YIELD
  EXPECT_TRUE(kvm & (1u << 3));    // kvm-clock stays
}

}  // namespace
}  // namespace vmm
