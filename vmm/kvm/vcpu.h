// SPDX-License-Identifier: MIT
// Vcpu: one KVM vCPU fd and its shared kvm_run page. Run() turns each
// KVM_RUN return into a VcpuExit VcpuRunner dispatches; the register
// accessors wrap the state ioctls (used at boot and, later, by migration).
#ifndef VMM_KVM_VCPU_H_
#define VMM_KVM_VCPU_H_

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "base/scoped_mmap.h"
#include "base/unique_fd.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vm.h"

namespace vmm {

struct IoExit {
  bool is_write;
  uint16_t port;
  uint8_t size;    // bytes per access
  uint32_t count;  // > 1 for string I/O (rep ins/outs)
  std::span<uint8_t> data;  // size * count bytes inside kvm_run
};
struct MmioExit {
  bool is_write;
  uint64_t address;
  std::span<uint8_t> data;
};
struct HaltExit {};
struct ShutdownExit {};  // triple fault
struct SystemEventExit {
  uint32_t type;
};
struct InternalErrorExit {
  uint32_t suberror;
  std::vector<uint64_t> data;
};
struct FailEntryExit {
  uint64_t reason;
};
struct InterruptedExit {};  // a signal kicked the vCPU out of KVM_RUN
struct UnhandledExit {
  uint32_t reason;
};
using VcpuExit = std::variant<IoExit, MmioExit, HaltExit, ShutdownExit, SystemEventExit,
                              InternalErrorExit, FailEntryExit, InterruptedExit, UnhandledExit>;

class Vcpu {
 public:
  static absl::StatusOr<Vcpu> Create(const Kvm& kvm, const Vm& vm, uint32_t id);

  uint32_t id() const { return id_; }
  int fd() const { return fd_.get(); }
  absl::StatusOr<VcpuExit> Run();
  // Makes the next (or current, with a signal) KVM_RUN return at once.
  void SetImmediateExit(bool value);

  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);
  absl::Status SetFpu(const kvm_fpu& fpu);
  absl::Status SetCpuid(const std::vector<kvm_cpuid_entry2>& entries);
  absl::Status SetMsrs(const std::vector<kvm_msr_entry>& msrs);
  absl::StatusOr<kvm_lapic_state> GetLapic() const;
  absl::Status SetLapic(const kvm_lapic_state& lapic);
  // KVM_GET_MSRS stops at the first MSR it cannot read; returns what it read.
  absl::StatusOr<std::vector<kvm_msr_entry>> GetMsrs(const std::vector<uint32_t>& indices) const;
  // The other fixed-size state ioctls (vcpu_state.cc): `request` with its
  // struct; the error names `name` and this vCPU.
  absl::Status StateIoctl(unsigned long request, void* arg, const char* name) const;

 private:
  Vcpu(uint32_t id, base::UniqueFd fd, base::ScopedMmap run)
      : id_(id), fd_(std::move(fd)), run_mapping_(std::move(run)) {}
  kvm_run* run() const { return reinterpret_cast<kvm_run*>(run_mapping_.data()); }

  uint32_t id_;
  base::UniqueFd fd_;
  base::ScopedMmap run_mapping_;
};

}  // namespace vmm

#endif  // VMM_KVM_VCPU_H_
