// SPDX-License-Identifier: MIT
// Kvm: the /dev/kvm system fd. Capability checks, the host's supported
// CPUID and MSR lists, and whether this host's KVM is PVM (a software
// hypervisor whose guest-kernel emulator lacks some instructions).
#ifndef VMM_KVM_KVM_H_
#define VMM_KVM_KVM_H_

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace vmm {

class Kvm {
 public:
  static absl::StatusOr<Kvm> Open(const char* path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  int CheckExtension(long capability) const;
  absl::StatusOr<std::vector<kvm_cpuid_entry2>> SupportedCpuid() const;
  absl::StatusOr<std::vector<uint32_t>> MsrIndexList() const;
  absl::StatusOr<size_t> VcpuMmapSize() const;
  // True when /dev/kvm is served by the kvm_pvm module.
  bool is_pvm() const { return is_pvm_; }

 private:
  Kvm(base::UniqueFd fd, bool is_pvm) : fd_(std::move(fd)), is_pvm_(is_pvm) {}
  base::UniqueFd fd_;
  bool is_pvm_;
};

}  // namespace vmm

#endif  // VMM_KVM_KVM_H_
