// SPDX-License-Identifier: MIT
#include "vmm/kvm/vcpu_state.h"

#include <linux/kvm.h>

#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "vmm/kvm/kvm_uapi.h"

namespace vmm {
namespace {

constexpr uint32_t kMsrTscDeadline = 0x6e0;  // IA32_TSC_DEADLINE

// Reads one fixed-size struct with `request`; absent (nullopt) when this
// KVM refuses it (e.g. XSAVE on a host without it).
template <typename T>
std::optional<T> TryGet(const Vcpu& vcpu, unsigned long request, const char* name) {
  T value{};
  if (!vcpu.StateIoctl(request, &value, name).ok()) return std::nullopt;
  return value;
}

template <typename T>
absl::Status Put(Vcpu& vcpu, const state::StateNode& node, const char* property, unsigned long request,
                 const char* name, bool optional = false) {
  if (optional && !node.Has(property)) return absl::OkStatus();
  ASSIGN_OR_RETURN(T value, node.Struct<T>(property));
  return vcpu.StateIoctl(request, &value, name);
}

}  // namespace

absl::StatusOr<std::vector<uint32_t>> SaveableMsrs(const Kvm& kvm, const Vcpu& vcpu) {
  ASSIGN_OR_RETURN(std::vector<uint32_t> listed, kvm.MsrIndexList());
  std::vector<uint32_t> readable;
  for (uint32_t index : listed) {
    absl::StatusOr<std::vector<kvm_msr_entry>> got = vcpu.GetMsrs({index});
    if (got.ok() && got->size() == 1) readable.push_back(index);
  }
  return readable;
}

absl::Status SaveVcpuState(const Vcpu& vcpu, std::span<const uint32_t> msrs, state::StateWriter& out) {
  out.BeginNode(absl::StrFormat("vcpu@%u", vcpu.id()));
  // MP state first: reading it makes KVM deliver a pending INIT or SIPI,
  // which rewrites the registers; read after it, they match what the vCPU
  // would run with.
  kvm_mp_state mp{};
  RETURN_IF_ERROR(vcpu.StateIoctl(KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE"));
  out.PutStruct("mp_state", mp);
  ASSIGN_OR_RETURN(kvm_regs regs, vcpu.GetRegs());
  out.PutStruct("regs", regs);
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  out.PutStruct("sregs", sregs);
  kvm_fpu fpu{};
  RETURN_IF_ERROR(vcpu.StateIoctl(KVM_GET_FPU, &fpu, "KVM_GET_FPU"));
  out.PutStruct("fpu", fpu);
  if (auto xsave = TryGet<KvmXsave>(vcpu, kKvmGetXsave, "KVM_GET_XSAVE")) out.PutStruct("xsave", *xsave);
  if (auto xcrs = TryGet<kvm_xcrs>(vcpu, KVM_GET_XCRS, "KVM_GET_XCRS")) out.PutStruct("xcrs", *xcrs);
  ASSIGN_OR_RETURN(std::vector<kvm_msr_entry> values,
                   vcpu.GetMsrs(std::vector<uint32_t>(msrs.begin(), msrs.end())));
  if (values.size() != msrs.size()) {
    return absl::InternalError(absl::StrFormat("KVM_GET_MSRS read %u of %u MSRs on vCPU %u", values.size(),
                                               msrs.size(), vcpu.id()));
  }
  out.PutBytes("msrs", {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(kvm_msr_entry)});
  ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.GetLapic());
  out.PutStruct("lapic", lapic);
  kvm_vcpu_events events{};
  RETURN_IF_ERROR(vcpu.StateIoctl(KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS"));
  out.PutStruct("events", events);
  if (auto debug = TryGet<kvm_debugregs>(vcpu, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS")) {
    out.PutStruct("debugregs", *debug);
  }
  out.EndNode();
  return absl::OkStatus();
}

absl::Status LoadVcpuState(Vcpu& vcpu, const state::StateReader& in) {
  ASSIGN_OR_RETURN(state::StateNode node, in.Node(absl::StrFormat("vcpu@%u", vcpu.id())));
  // The order KVM needs: general and FPU registers, then the special
  // registers (CR0/CR4/EFER gate which MSRs and LAPIC modes are valid),
  // MSRs (the TSC among them), MP state, the LAPIC (its base came with the
  // MSRs), pending events last since they refer to all of the above.
  RETURN_IF_ERROR(Put<kvm_regs>(vcpu, node, "regs", KVM_SET_REGS, "KVM_SET_REGS"));
  if (node.Has("xsave")) {
    RETURN_IF_ERROR(Put<KvmXsave>(vcpu, node, "xsave", kKvmSetXsave, "KVM_SET_XSAVE"));
  } else {
    RETURN_IF_ERROR(Put<kvm_fpu>(vcpu, node, "fpu", KVM_SET_FPU, "KVM_SET_FPU"));
  }
  RETURN_IF_ERROR(Put<kvm_xcrs>(vcpu, node, "xcrs", KVM_SET_XCRS, "KVM_SET_XCRS", /*optional=*/true));
  RETURN_IF_ERROR(Put<kvm_sregs>(vcpu, node, "sregs", KVM_SET_SREGS, "KVM_SET_SREGS"));
  ASSIGN_OR_RETURN(std::span<const uint8_t> raw, node.Bytes("msrs"));
  if (raw.size() % sizeof(kvm_msr_entry) != 0 || raw.size() / sizeof(kvm_msr_entry) > kMaxMsrEntries) {
    return absl::DataLossError(absl::StrFormat("saved state: %s/msrs has a bad size (%u bytes)", node.path(),
                                               raw.size()));
  }
  std::vector<kvm_msr_entry> msrs(raw.size() / sizeof(kvm_msr_entry));
  std::memcpy(msrs.data(), raw.data(), raw.size());
  // Setting the LAPIC resets its TSC deadline, so that MSR goes after it.
  std::vector<kvm_msr_entry> deadline;
  std::erase_if(msrs, [&](const kvm_msr_entry& m) {
    if (m.index != kMsrTscDeadline) return false;
    deadline.push_back(m);
    return true;
  });
  RETURN_IF_ERROR(vcpu.SetMsrs(msrs));
  RETURN_IF_ERROR(Put<kvm_mp_state>(vcpu, node, "mp_state", KVM_SET_MP_STATE, "KVM_SET_MP_STATE"));
  ASSIGN_OR_RETURN(kvm_lapic_state lapic, node.Struct<kvm_lapic_state>("lapic"));
  RETURN_IF_ERROR(vcpu.SetLapic(lapic));
  RETURN_IF_ERROR(vcpu.SetMsrs(deadline));
  RETURN_IF_ERROR(Put<kvm_vcpu_events>(vcpu, node, "events", KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS"));
  RETURN_IF_ERROR(
      Put<kvm_debugregs>(vcpu, node, "debugregs", KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", /*optional=*/true));
  return absl::OkStatus();
}

}  // namespace vmm
