// SPDX-License-Identifier: MIT
#include "vmm/kvm/x86_cpu_setup.h"

#include <gtest/gtest.h>

#include "memory/layout.h"

namespace vmm {
namespace {

memory::GuestMemory SmallMemory() {
  auto mem = memory::GuestMemory::Create({{0, 64 * memory::kMiB}});
  EXPECT_TRUE(mem.ok());
  return std::move(*mem);
}

TEST(PageTables, IdentityMapsFirstFourGiBWithLargePages) {
  auto mem = SmallMemory();
  ASSERT_TRUE(WriteIdentityPageTables(mem).ok());
  uint64_t pml4e = *mem.Read<uint64_t>(memory::kPml4Address);
  EXPECT_EQ(pml4e & 3, 3u);
  uint64_t pdpt = pml4e & ~0xfffull;
  for (uint64_t gib = 0; gib < 4; ++gib) {
    uint64_t pdpte = *mem.Read<uint64_t>(pdpt + gib * 8);
    EXPECT_EQ(pdpte & 3, 3u);
    uint64_t pd = pdpte & ~0xfffull;
    for (uint64_t i : {0ull, 1ull, 511ull}) {
      uint64_t pde = *mem.Read<uint64_t>(pd + i * 8);
      EXPECT_EQ(pde & ~0xfffull, (gib << 30) | (i << 21));
      EXPECT_EQ(pde & 0x83, 0x83u);  // present, writable, 2 MiB
    }
  }
  // The tables end before the boot stack and command line.
  EXPECT_LE(memory::kPml4Address + 6 * memory::kPageSize, memory::kCmdlineAddress);
}

TEST(Gdt, LongModeSegments) {
  auto mem = SmallMemory();
  ASSERT_TRUE(WriteBootGdt(mem).ok());
  EXPECT_EQ(*mem.Read<uint64_t>(memory::kGdtAddress), 0u);
  EXPECT_EQ(*mem.Read<uint64_t>(memory::kGdtAddress + 8), 0x00af9b000000ffffull);
  EXPECT_EQ(*mem.Read<uint64_t>(memory::kGdtAddress + 16), 0x00cf93000000ffffull);

  kvm_sregs s = LongModeSregs(kvm_sregs{});
  EXPECT_EQ(s.cs.selector, kBootCodeSelector);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.db, 0);
  EXPECT_EQ(s.cs.present, 1);
  EXPECT_EQ(s.ds.type, 3);
  EXPECT_EQ(s.ds.limit, 0xffffffffu);
  EXPECT_EQ(s.tr.type, 11);
  EXPECT_EQ(s.cr3, memory::kPml4Address);
  EXPECT_TRUE(s.cr0 & 1);
  EXPECT_TRUE(s.cr0 & (1u << 31));
  EXPECT_TRUE(s.cr4 & (1u << 5));
  EXPECT_EQ(s.efer & 0x500, 0x500u);
}

TEST(Regs, EntryAndBootParams) {
  kvm_regs r = BootRegs(0x1000000, memory::kBootParamsAddress);
  EXPECT_EQ(r.rip, 0x1000000u);
  EXPECT_EQ(r.rsi, memory::kBootParamsAddress);
  EXPECT_EQ(r.rflags, 2u);
}

TEST(Lapic, Lint0ExtIntLint1Nmi) {
  kvm_lapic_state lapic{};
  lapic = ConfigureLapicLints(lapic);
  uint32_t lint0, lint1;
  std::memcpy(&lint0, lapic.regs + 0x350, 4);
  std::memcpy(&lint1, lapic.regs + 0x360, 4);
  EXPECT_EQ((lint0 >> 8) & 7, 7u);
  EXPECT_EQ((lint1 >> 8) & 7, 4u);
}

}  // namespace
}  // namespace vmm
