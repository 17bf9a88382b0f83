// SPDX-License-Identifier: MIT
#include "vmm/kvm/vm.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_format.h"
#include "memory/layout.h"

namespace vmm {

absl::StatusOr<Vm> Vm::Create(const Kvm& kvm) {
  int fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "KVM_CREATE_VM");
  return Vm(base::UniqueFd(fd));
}

absl::Status Vm::SetMemoryRegions(const memory::GuestMemory& mem, uint32_t flags) {
  uint32_t slot = 0;
  for (const memory::MappedRegion& r : mem.Regions()) {
    kvm_userspace_memory_region region{
        .slot = slot++,
        .flags = flags,
        .guest_phys_addr = r.gpa,
        .memory_size = r.size,
        .userspace_addr = reinterpret_cast<uint64_t>(r.host),
    };
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrFormat("KVM_SET_USER_MEMORY_REGION slot %u at 0x%x", region.slot, r.gpa));
    }
  }
  return absl::OkStatus();
}

absl::Status Vm::CreatePlatformDevices() {
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, memory::kTssAddress) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_SET_TSS_ADDR");
  }
  uint64_t identity_map = memory::kIdentityMapAddress;
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_SET_IDENTITY_MAP_ADDR");
  }
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_CREATE_IRQCHIP");
  }
  // KVM_PIT_SPEAKER_DUMMY: port 0x61 reads are answered in the kernel.
  kvm_pit_config pit{.flags = KVM_PIT_SPEAKER_DUMMY};
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_CREATE_PIT2");
  }
  return absl::OkStatus();
}

absl::Status Vm::SetIrqLine(uint32_t irq, bool level) {
  kvm_irq_level line{.irq = irq, .level = level ? 1u : 0u};
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &line) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_IRQ_LINE %u", irq));
  }
  return absl::OkStatus();
}

absl::StatusOr<base::UniqueFd> Vm::CreateIrqfd(uint32_t gsi) {
  base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "eventfd for irqfd");
  kvm_irqfd irqfd{.fd = static_cast<uint32_t>(fd.get()), .gsi = gsi};
  if (::ioctl(fd_.get(), KVM_IRQFD, &irqfd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_IRQFD gsi %u", gsi));
  }
  return fd;
}

absl::Status Vm::SetDirtyLogging(const memory::GuestMemory& mem, bool on) {
  return SetMemoryRegions(mem, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

absl::StatusOr<std::vector<uint64_t>> Vm::GetDirtyLog(uint32_t slot, uint64_t pages) {
  std::vector<uint64_t> bitmap((pages + 63) / 64);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_GET_DIRTY_LOG slot %u", slot));
  }
  return bitmap;
}

absl::Status Vm::StateIoctl(unsigned long request, void* arg, const char* name) const {
  if (::ioctl(fd_.get(), request, arg) != 0) return absl::ErrnoToStatus(errno, name);
  return absl::OkStatus();
}

absl::StatusOr<base::UniqueFd> Vm::CreateIoeventfd(uint64_t address, uint32_t value) {
  base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "eventfd for ioeventfd");
  kvm_ioeventfd ioeventfd{.datamatch = value,
                          .addr = address,
                          .len = 4,
                          .fd = fd.get(),
                          .flags = KVM_IOEVENTFD_FLAG_DATAMATCH};
  if (::ioctl(fd_.get(), KVM_IOEVENTFD, &ioeventfd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_IOEVENTFD at 0x%x value %u", address, value));
  }
  return fd;
}

}  // namespace vmm
