// SPDX-License-Identifier: MIT
#include "vmm/kvm/x86_cpu_setup.h"

#include <cstring>

#include "base/status_macros.h"
#include "memory/layout.h"

namespace vmm {
namespace {

constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPteLarge = 1ull << 7;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint64_t kMiscEnableFastString = 1;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint64_t kMtrrEnableWriteBackDefault = (1ull << 11) | 6;

constexpr uint32_t kApicLvtLint0 = 0x350;
constexpr uint32_t kApicLvtLint1 = 0x360;
constexpr uint32_t kApicDeliveryExtInt = 7;
constexpr uint32_t kApicDeliveryNmi = 4;

// A GDT descriptor from flags/base/limit in the usual packed layout.
uint64_t GdtEntry(uint16_t flags, uint32_t base, uint32_t limit) {
  return ((uint64_t{base} & 0xff000000) << 32) | ((uint64_t{flags} & 0xf0ff) << 40) |
         ((uint64_t{limit} & 0x000f0000) << 32) | ((uint64_t{base} & 0x00ffffff) << 16) |
         (uint64_t{limit} & 0x0000ffff);
}

kvm_segment SegmentFromGdt(uint64_t entry, uint16_t selector) {
  kvm_segment s{};
  s.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24);
  uint32_t limit = static_cast<uint32_t>((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
  s.g = (entry >> 55) & 1;
  s.limit = s.g ? (limit << 12) | 0xfff : limit;
  s.selector = selector;
  s.type = (entry >> 40) & 0xf;
  s.present = (entry >> 47) & 1;
  s.dpl = (entry >> 45) & 3;
  s.db = (entry >> 54) & 1;
  s.s = (entry >> 44) & 1;
  s.l = (entry >> 53) & 1;
  s.avl = (entry >> 52) & 1;
  s.unusable = s.present ? 0 : 1;
  return s;
}

const uint64_t kGdt[] = {
    0,
    GdtEntry(0xa09b, 0, 0xfffff),  // 64-bit code
    GdtEntry(0xc093, 0, 0xfffff),  // data
    GdtEntry(0x808b, 0, 0xfffff),  // TSS
};

}  // namespace

absl::Status WriteIdentityPageTables(memory::GuestMemory& mem) {
  const memory::Gpa pml4 = memory::kPml4Address;
  const memory::Gpa pdpt = pml4 + memory::kPageSize;
  const memory::Gpa pd = pdpt + memory::kPageSize;
  RETURN_IF_ERROR(mem.Write<uint64_t>(pml4, pdpt | kPtePresent | kPteWritable));
  for (uint64_t gib = 0; gib < 4; ++gib) {
    memory::Gpa dir = pd + gib * memory::kPageSize;
    RETURN_IF_ERROR(mem.Write<uint64_t>(pdpt + gib * 8, dir | kPtePresent | kPteWritable));
    for (uint64_t i = 0; i < 512; ++i) {
      uint64_t address = (gib << 30) | (i << 21);
      RETURN_IF_ERROR(mem.Write<uint64_t>(dir + i * 8, address | kPtePresent | kPteWritable | kPteLarge));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteBootGdt(memory::GuestMemory& mem) {
  for (size_t i = 0; i < std::size(kGdt); ++i) {
    RETURN_IF_ERROR(mem.Write<uint64_t>(memory::kGdtAddress + i * 8, kGdt[i]));
  }
  return absl::OkStatus();
}

kvm_sregs LongModeSregs(kvm_sregs s) {
  s.gdt.base = memory::kGdtAddress;
  s.gdt.limit = sizeof(kGdt) - 1;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cs = SegmentFromGdt(kGdt[1], kBootCodeSelector);
  kvm_segment data = SegmentFromGdt(kGdt[2], kBootDataSelector);
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  s.tr = SegmentFromGdt(kGdt[3], kBootTssSelector);
  s.cr3 = memory::kPml4Address;
  s.cr4 |= kCr4Pae;
  s.cr0 |= kCr0Pe | kCr0Pg | kCr0Et;
  s.efer |= kEferLme | kEferLma;
  return s;
}

kvm_regs BootRegs(uint64_t entry, uint64_t boot_params) {
  kvm_regs r{};
  r.rip = entry;
  r.rsi = boot_params;
  r.rsp = kBootStackPointer;
  r.rbp = kBootStackPointer;
  r.rflags = 0x2;  // bit 1 is reserved and always set
  return r;
}

kvm_fpu BootFpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 reset value
  fpu.mxcsr = 0x1f80;  // SSE reset value
  return fpu;
}

std::vector<kvm_msr_entry> BootMsrs() {
  auto msr = [](uint32_t index, uint64_t data) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = data;
    return e;
  };
  return {msr(kMsrSysenterCs, 0),    msr(kMsrSysenterEsp, 0),   msr(kMsrSysenterEip, 0),
          msr(kMsrStar, 0),          msr(kMsrLstar, 0),         msr(kMsrCstar, 0),
          msr(kMsrSyscallMask, 0),   msr(kMsrKernelGsBase, 0),  msr(kMsrTsc, 0),
          msr(kMsrMiscEnable, kMiscEnableFastString),
          msr(kMsrMtrrDefType, kMtrrEnableWriteBackDefault)};
}

kvm_lapic_state ConfigureLapicLints(kvm_lapic_state lapic) {
  auto set_delivery = [&](uint32_t reg, uint32_t mode) {
    uint32_t value;
    std::memcpy(&value, lapic.regs + reg, sizeof(value));
    value = (value & ~0x700u) | (mode << 8);
    std::memcpy(lapic.regs + reg, &value, sizeof(value));
  };
  set_delivery(kApicLvtLint0, kApicDeliveryExtInt);
  set_delivery(kApicLvtLint1, kApicDeliveryNmi);
  return lapic;
}

}  // namespace vmm
