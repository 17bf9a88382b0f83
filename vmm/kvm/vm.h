// SPDX-License-Identifier: MIT
// Vm: one KVM virtual machine fd. Memory slots, the in-kernel interrupt
// controllers and timer, and interrupt injection.
#ifndef VMM_KVM_VM_H_
#define VMM_KVM_VM_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "memory/guest_memory.h"
#include "vmm/kvm/kvm.h"

namespace vmm {

class Vcpu;

class Vm {
 public:
  static absl::StatusOr<Vm> Create(const Kvm& kvm);

  int fd() const { return fd_.get(); }
  // One KVM slot per guest RAM region, slot number = region index.
  absl::Status SetMemoryRegions(const memory::GuestMemory& mem, uint32_t flags = 0);
  // In-kernel PIC + IOAPIC + LAPICs, PIT, and the TSS/identity-map pages
  // KVM needs below 4 GiB.
  absl::Status CreatePlatformDevices();
  absl::Status SetIrqLine(uint32_t irq, bool level);
  // An eventfd whose every write raises `gsi` (edge) inside KVM.
  absl::StatusOr<base::UniqueFd> CreateIrqfd(uint32_t gsi);
  // An eventfd KVM signals, without leaving the kernel, whenever the guest
  // writes the 4-byte `value` to MMIO address `address`.
  absl::StatusOr<base::UniqueFd> CreateIoeventfd(uint64_t address, uint32_t value);

  // Dirty-page logging on every RAM slot (KVM_MEM_LOG_DIRTY_PAGES).
  absl::Status SetDirtyLogging(const memory::GuestMemory& mem, bool on);
  // Pages of `slot` written by vCPUs since the last call (bit p = page p);
  // KVM clears the log and write-protects the pages again.
  absl::StatusOr<std::vector<uint64_t>> GetDirtyLog(uint32_t slot, uint64_t pages);
  // Fixed-size VM state ioctls (vm_state.cc).
  absl::Status StateIoctl(unsigned long request, void* arg, const char* name) const;

 private:
  explicit Vm(base::UniqueFd fd) : fd_(std::move(fd)) {}
  base::UniqueFd fd_;
};

}  // namespace vmm

#endif  // VMM_KVM_VM_H_
