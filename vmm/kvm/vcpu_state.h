// SPDX-License-Identifier: MIT
// Saving and restoring one vCPU's KVM state for migration and snapshots:
// node "vcpu@<id>" of the state tree, with the register sets as raw KVM
// structs (x86 little-endian), every MSR KVM can read back, and the LAPIC.
//
// Trust boundary: LoadVcpuState reads an untrusted tree. Every struct is
// size-checked (StateNode::Struct), the MSR list is bounded and each entry
// must be an MSR this KVM lists; KVM itself rejects register values a vCPU
// could not hold (the ioctl error is returned, naming the piece).
#ifndef VMM_KVM_VCPU_STATE_H_
#define VMM_KVM_VCPU_STATE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "state/state_tree.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vcpu.h"

namespace vmm {

// The MSRs of KVM_GET_MSR_INDEX_LIST that `vcpu` can actually read (some
// listed ones fail on a given host; KVM_GET_MSRS stops at the first).
absl::StatusOr<std::vector<uint32_t>> SaveableMsrs(const Kvm& kvm, const Vcpu& vcpu);

absl::Status SaveVcpuState(const Vcpu& vcpu, std::span<const uint32_t> msrs, state::StateWriter& out);
absl::Status LoadVcpuState(Vcpu& vcpu, const state::StateReader& in);

}  // namespace vmm

#endif  // VMM_KVM_VCPU_STATE_H_
