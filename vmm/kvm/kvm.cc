// SPDX-License-Identifier: MIT
#include "vmm/kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "vmm/kvm/kvm_uapi.h"

namespace vmm {

absl::StatusOr<Kvm> Kvm::Open(const char* path) {
  base::UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      struct stat st;
      if (::stat("/sys/module/kvm_pvm", &st) == 0) {
        // Seen on hosts that are PVM guests themselves: the module is built
        // in but refuses to bind ("this kernel is itself a kvm-pvm guest").
        return absl::NotFoundError(absl::StrCat(
            path, " does not exist although kvm_pvm is loaded: the module did not register it (see the kernel log, "
                  "e.g. 'kvm-pvm: ... not binding'); this host cannot run guests"));
      }
      return absl::NotFoundError(absl::StrCat(path, " does not exist: this host has no KVM (load kvm_intel/kvm_amd, or enable nested virtualization)"));
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(absl::StrCat("no permission to open ", path, ": add your user to the 'kvm' group or run as root"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("open ", path));
  }
  int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("KVM API version ", version, ", expected ", KVM_API_VERSION));
  }
  struct stat st;
  bool is_pvm = ::stat("/sys/module/kvm_pvm", &st) == 0;
  return Kvm(std::move(fd), is_pvm);
}

int Kvm::CheckExtension(long capability) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

absl::StatusOr<std::vector<kvm_cpuid_entry2>> Kvm::SupportedCpuid() const {
  auto cpuid = std::make_unique<KvmCpuid2>();
  cpuid->nent = kMaxCpuidEntries;
  if (::ioctl(fd_.get(), kKvmGetSupportedCpuid, cpuid.get()) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_GET_SUPPORTED_CPUID");
  }
  return std::vector<kvm_cpuid_entry2>(cpuid->entries, cpuid->entries + cpuid->nent);
}

absl::StatusOr<std::vector<uint32_t>> Kvm::MsrIndexList() const {
  auto list = std::make_unique<KvmMsrList>();
  list->nmsrs = kMaxMsrEntries;
  if (::ioctl(fd_.get(), kKvmGetMsrIndexList, list.get()) != 0) {
    return absl::ErrnoToStatus(errno, "KVM_GET_MSR_INDEX_LIST");
  }
  return std::vector<uint32_t>(list->indices, list->indices + list->nmsrs);
}

absl::StatusOr<size_t> Kvm::VcpuMmapSize() const {
  int size = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) return absl::ErrnoToStatus(errno, "KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<size_t>(size);
}

}  // namespace vmm
