// SPDX-License-Identifier: MIT
// Saving and restoring the VM-wide in-kernel state: node "vm" of the state
// tree with the PIC pair and IOAPIC (KVM_GET_IRQCHIP), the PIT
// (KVM_GET_PIT2) and kvm-clock (KVM_GET_CLOCK). Loaded structs are
// size-checked; the irqchip ids are fixed here, never taken from the tree.
#ifndef VMM_KVM_VM_STATE_H_
#define VMM_KVM_VM_STATE_H_

#include "absl/status/status.h"
#include "state/state_tree.h"
#include "vmm/kvm/vm.h"

namespace vmm {

absl::Status SaveVmState(const Vm& vm, state::StateWriter& out);
absl::Status LoadVmState(Vm& vm, const state::StateReader& in);

}  // namespace vmm

#endif  // VMM_KVM_VM_STATE_H_
