// SPDX-License-Identifier: MIT
#include "vmm/kvm/vm_state.h"

#include <linux/kvm.h>

#include "base/status_macros.h"

namespace vmm {
namespace {

constexpr struct {
  uint32_t id;
  const char* name;
} kChips[] = {{KVM_IRQCHIP_PIC_MASTER, "pic_master"}, {KVM_IRQCHIP_PIC_SLAVE, "pic_slave"},
              {KVM_IRQCHIP_IOAPIC, "ioapic"}};

}  // namespace

absl::Status SaveVmState(const Vm& vm, state::StateWriter& out) {
  out.BeginNode("vm");
  for (const auto& chip : kChips) {
    kvm_irqchip state{};
    state.chip_id = chip.id;
    RETURN_IF_ERROR(vm.StateIoctl(KVM_GET_IRQCHIP, &state, "KVM_GET_IRQCHIP"));
    out.PutStruct(chip.name, state);
  }
  kvm_pit_state2 pit{};
  RETURN_IF_ERROR(vm.StateIoctl(KVM_GET_PIT2, &pit, "KVM_GET_PIT2"));
  out.PutStruct("pit", pit);
  kvm_clock_data clock{};
  RETURN_IF_ERROR(vm.StateIoctl(KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK"));
  out.PutU64("clock", clock.clock);
  out.EndNode();
  return absl::OkStatus();
}

absl::Status LoadVmState(Vm& vm, const state::StateReader& in) {
  ASSIGN_OR_RETURN(state::StateNode node, in.Node("vm"));
  for (const auto& chip : kChips) {
    ASSIGN_OR_RETURN(kvm_irqchip state, node.Struct<kvm_irqchip>(chip.name));
    state.chip_id = chip.id;  // what the bytes claim does not choose the chip
    RETURN_IF_ERROR(vm.StateIoctl(KVM_SET_IRQCHIP, &state, "KVM_SET_IRQCHIP"));
  }
  ASSIGN_OR_RETURN(kvm_pit_state2 pit, node.Struct<kvm_pit_state2>("pit"));
  RETURN_IF_ERROR(vm.StateIoctl(KVM_SET_PIT2, &pit, "KVM_SET_PIT2"));
  // The guest's clock continues from where it stopped: no jump backwards,
  // and the time spent moving is not seen as lost ticks.
  ASSIGN_OR_RETURN(uint64_t clock_ns, node.U64("clock"));
  kvm_clock_data clock{};
  clock.clock = clock_ns;
  RETURN_IF_ERROR(vm.StateIoctl(KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK"));
  return absl::OkStatus();
}

}  // namespace vmm
