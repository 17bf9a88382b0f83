// SPDX-License-Identifier: MIT
// vCPU and VM state through the real /dev/kvm: state set on one VM, saved,
// loaded into a second VM, must read back the same (the conformance check
// every Migratable passes: save -> load elsewhere -> compare).
#include "vmm/kvm/vcpu_state.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"
#include "memory/layout.h"
#include "vmm/kvm/cpuid.h"
#include "vmm/kvm/vm_state.h"
#include "vmm/kvm/x86_cpu_setup.h"

namespace vmm {
namespace {

struct TestVm {
  std::optional<memory::GuestMemory> mem;
  std::optional<Vm> vm;
  std::optional<Vcpu> vcpu;
};

bool KvmMissing() { return ::access("/dev/kvm", R_OK | W_OK) != 0; }
bool InCi() { return std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true"; }

void MakeVm(const Kvm& kvm, TestVm& t) {
  auto mem = memory::GuestMemory::Create(memory::RamRegionsForSize(64 << 20));
  ASSERT_TRUE(mem.ok());
  t.mem.emplace(std::move(*mem));
  auto vm = Vm::Create(kvm);
  ASSERT_TRUE(vm.ok());
  t.vm.emplace(std::move(*vm));
  ASSERT_TRUE(t.vm->SetMemoryRegions(*t.mem).ok());
  ASSERT_TRUE(t.vm->CreatePlatformDevices().ok());
  auto vcpu = Vcpu::Create(kvm, *t.vm, 0);
  ASSERT_TRUE(vcpu.ok());
  t.vcpu.emplace(std::move(*vcpu));
  auto supported = kvm.SupportedCpuid();
  ASSERT_TRUE(supported.ok());
  ASSERT_TRUE(t.vcpu->SetCpuid(AdjustCpuid(*supported, {.pvm_host = kvm.is_pvm()})).ok());
}

TEST(VcpuStateTest, SavedStateLoadsIntoAnotherVmIdentically) {
  if (KvmMissing()) {
    if (InCi()) FAIL() << "/dev/kvm missing";
    GTEST_SKIP() << "/dev/kvm missing";
  }
  auto kvm = Kvm::Open();
  ASSERT_TRUE(kvm.ok());
  TestVm a, b;
  MakeVm(*kvm, a);
  MakeVm(*kvm, b);

  // Distinctive state on A: long mode, registers, an MSR, the LAPIC LINTs.
  auto sregs = a.vcpu->GetSregs();
  ASSERT_TRUE(sregs.ok());
  ASSERT_TRUE(a.vcpu->SetSregs(LongModeSregs(*sregs)).ok());
  kvm_regs regs = BootRegs(0x1234567, 0x7000);
  regs.rbx = 0xfeedface;
  regs.r15 = 0x1122334455667788;
  ASSERT_TRUE(a.vcpu->SetRegs(regs).ok());
  auto lapic = a.vcpu->GetLapic();
  ASSERT_TRUE(lapic.ok());
  ASSERT_TRUE(a.vcpu->SetLapic(ConfigureLapicLints(*lapic)).ok());
  constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
  ASSERT_TRUE(a.vcpu->SetMsrs({{.index = kMsrKernelGsBase, .data = 0xffff888012345000}}).ok());

  auto msrs = SaveableMsrs(*kvm, *a.vcpu);
  ASSERT_TRUE(msrs.ok()) << msrs.status();
  EXPECT_GT(msrs->size(), 10u);
  state::StateWriter w;
  ASSERT_TRUE(SaveVmState(*a.vm, w).ok());
  ASSERT_TRUE(SaveVcpuState(*a.vcpu, *msrs, w).ok());
  auto blob = w.Finish();
  ASSERT_TRUE(blob.ok()) << blob.status();
  auto reader = state::StateReader::Parse(*blob);
  ASSERT_TRUE(reader.ok());

  ASSERT_TRUE(LoadVmState(*b.vm, *reader).ok());
  absl::Status loaded = LoadVcpuState(*b.vcpu, *reader);
  ASSERT_TRUE(loaded.ok()) << loaded;

  auto regs_b = b.vcpu->GetRegs();
  ASSERT_TRUE(regs_b.ok());
  EXPECT_EQ(regs_b->rip, 0x1234567u);
  EXPECT_EQ(regs_b->rbx, 0xfeedfaceu);
  EXPECT_EQ(regs_b->r15, 0x1122334455667788u);
  auto sregs_a = a.vcpu->GetSregs(), sregs_b = b.vcpu->GetSregs();
  ASSERT_TRUE(sregs_a.ok() && sregs_b.ok());
  EXPECT_EQ(sregs_b->cr0, sregs_a->cr0);
  EXPECT_EQ(sregs_b->cr4, sregs_a->cr4);
  EXPECT_EQ(sregs_b->efer, sregs_a->efer);
  EXPECT_EQ(sregs_b->cs.l, 1);
  auto msr_b = b.vcpu->GetMsrs({kMsrKernelGsBase});
  ASSERT_TRUE(msr_b.ok() && msr_b->size() == 1);
  EXPECT_EQ((*msr_b)[0].data, 0xffff888012345000u);
  auto lapic_a = a.vcpu->GetLapic(), lapic_b = b.vcpu->GetLapic();
  ASSERT_TRUE(lapic_a.ok() && lapic_b.ok());
  // LVT LINT0/LINT1 (0x350, 0x360) as configured for the boot CPU.
  EXPECT_EQ(std::memcmp(lapic_a->regs + 0x350, lapic_b->regs + 0x350, 0x20), 0);
}

TEST(VcpuStateTest, MalformedStateIsRefusedNamingThePiece) {
  if (KvmMissing()) {
    if (InCi()) FAIL() << "/dev/kvm missing";
    GTEST_SKIP() << "/dev/kvm missing";
  }
  auto kvm = Kvm::Open();
  ASSERT_TRUE(kvm.ok());
  TestVm b;
  MakeVm(*kvm, b);
  state::StateWriter w;
  w.BeginNode("vcpu@0");
  w.PutBytes("regs", std::vector<uint8_t>(10, 0));  // a truncated kvm_regs
  w.EndNode();
  w.BeginNode("vm");
  w.EndNode();
  auto reader = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(reader.ok());
  absl::Status st = LoadVcpuState(*b.vcpu, *reader);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("regs"), std::string::npos) << st;
  st = LoadVmState(*b.vm, *reader);
  EXPECT_NE(st.message().find("pic_master"), std::string::npos) << st;
}

}  // namespace
}  // namespace vmm
