// SPDX-License-Identifier: MIT
#include "vmm/kvm/vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "vmm/kvm/kvm_uapi.h"

namespace vmm {
namespace {

absl::Status Ioctl(int fd, unsigned long request, void* arg, const char* name) {
  if (::ioctl(fd, request, arg) != 0) return absl::ErrnoToStatus(errno, name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Vcpu> Vcpu::Create(const Kvm& kvm, const Vm& vm, uint32_t id) {
  int fd = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_CREATE_VCPU %u", id));
  base::UniqueFd owned(fd);
  ASSIGN_OR_RETURN(size_t mmap_size, kvm.VcpuMmapSize());
  ASSIGN_OR_RETURN(base::ScopedMmap run,
                   base::ScopedMmap::Map(mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd));
  return Vcpu(id, std::move(owned), std::move(run));
}

void Vcpu::SetImmediateExit(bool value) {
  __atomic_store_n(&run()->immediate_exit, value ? 1 : 0, __ATOMIC_SEQ_CST);
}

absl::StatusOr<VcpuExit> Vcpu::Run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) != 0) {
    if (errno == EINTR || errno == EAGAIN) return InterruptedExit{};
    return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_RUN on vCPU %u", id_));
  }
  kvm_run* r = run();
  switch (r->exit_reason) {
    case KVM_EXIT_IO: {
      // The data area lies inside the kvm_run mapping; bound it by the
      // mapping size since the offset comes from the kernel's page.
      uint64_t length = uint64_t{r->io.size} * r->io.count;
      if (r->io.data_offset >= run_mapping_.size() ||
          length > run_mapping_.size() - r->io.data_offset) {
        return absl::InternalError("KVM_EXIT_IO data outside the kvm_run page");
      }
      return IoExit{.is_write = r->io.direction == KVM_EXIT_IO_OUT,
                    .port = r->io.port,
                    .size = r->io.size,
                    .count = r->io.count,
                    .data = {run_mapping_.data() + r->io.data_offset, length}};
    }
    case KVM_EXIT_MMIO:
      return MmioExit{.is_write = r->mmio.is_write != 0,
                      .address = r->mmio.phys_addr,
                      .data = {r->mmio.data, std::min<size_t>(r->mmio.len, sizeof(r->mmio.data))}};
    case KVM_EXIT_HLT:
      return HaltExit{};
    case KVM_EXIT_SHUTDOWN:
      return ShutdownExit{};
    case KVM_EXIT_SYSTEM_EVENT:
      return SystemEventExit{r->system_event.type};
    case KVM_EXIT_INTERNAL_ERROR: {
      InternalErrorExit exit{.suberror = r->internal.suberror};
      uint32_t n = std::min<uint32_t>(r->internal.ndata, 16);
      exit.data.assign(r->internal.data, r->internal.data + n);
      return exit;
    }
    case KVM_EXIT_FAIL_ENTRY:
      return FailEntryExit{r->fail_entry.hardware_entry_failure_reason};
    case KVM_EXIT_INTR:
      return InterruptedExit{};
    default:
      return UnhandledExit{r->exit_reason};
  }
}

absl::StatusOr<kvm_regs> Vcpu::GetRegs() const {
  kvm_regs regs;
  RETURN_IF_ERROR(Ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS"));
  return regs;
}
absl::Status Vcpu::SetRegs(const kvm_regs& regs) {
  return Ioctl(fd_.get(), KVM_SET_REGS, const_cast<kvm_regs*>(&regs), "KVM_SET_REGS");
}
absl::StatusOr<kvm_sregs> Vcpu::GetSregs() const {
  kvm_sregs sregs;
  RETURN_IF_ERROR(Ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"));
  return sregs;
}
absl::Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  return Ioctl(fd_.get(), KVM_SET_SREGS, const_cast<kvm_sregs*>(&sregs), "KVM_SET_SREGS");
}
absl::Status Vcpu::SetFpu(const kvm_fpu& fpu) {
  return Ioctl(fd_.get(), KVM_SET_FPU, const_cast<kvm_fpu*>(&fpu), "KVM_SET_FPU");
}
absl::StatusOr<kvm_lapic_state> Vcpu::GetLapic() const {
  kvm_lapic_state lapic;
  RETURN_IF_ERROR(Ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC"));
  return lapic;
}
absl::Status Vcpu::SetLapic(const kvm_lapic_state& lapic) {
  return Ioctl(fd_.get(), KVM_SET_LAPIC, const_cast<kvm_lapic_state*>(&lapic), "KVM_SET_LAPIC");
}

absl::Status Vcpu::StateIoctl(unsigned long request, void* arg, const char* name) const {
  if (::ioctl(fd_.get(), request, arg) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("%s on vCPU %u", name, id_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<kvm_msr_entry>> Vcpu::GetMsrs(const std::vector<uint32_t>& indices) const {
  if (indices.size() > kMaxMsrEntries) return absl::InvalidArgumentError("too many MSRs");
  auto list = std::make_unique<KvmMsrs>();
  list->nmsrs = static_cast<uint32_t>(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) list->entries[i] = kvm_msr_entry{.index = indices[i]};
  int got = ::ioctl(fd_.get(), kKvmGetMsrs, list.get());
  if (got < 0) return absl::ErrnoToStatus(errno, absl::StrFormat("KVM_GET_MSRS on vCPU %u", id_));
  return std::vector<kvm_msr_entry>(list->entries, list->entries + got);
}

absl::Status Vcpu::SetCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  if (entries.size() > kMaxCpuidEntries) return absl::InvalidArgumentError("too many CPUID entries");
  auto cpuid = std::make_unique<KvmCpuid2>();
  cpuid->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid->entries);
  return Ioctl(fd_.get(), kKvmSetCpuid2, cpuid.get(), "KVM_SET_CPUID2");
}

absl::Status Vcpu::SetMsrs(const std::vector<kvm_msr_entry>& msrs) {
  if (msrs.size() > kMaxMsrEntries) return absl::InvalidArgumentError("too many MSRs");
  auto list = std::make_unique<KvmMsrs>();
  list->nmsrs = static_cast<uint32_t>(msrs.size());
  std::copy(msrs.begin(), msrs.end(), list->entries);
  int set = ::ioctl(fd_.get(), kKvmSetMsrs, list.get());
  if (set < 0) return absl::ErrnoToStatus(errno, "KVM_SET_MSRS");
  if (static_cast<size_t>(set) != msrs.size()) {
    return absl::InternalError(
        absl::StrFormat("KVM_SET_MSRS set %d of %u MSRs; MSR 0x%x was refused", set, msrs.size(),
                        msrs[set].index));
  }
  return absl::OkStatus();
}

}  // namespace vmm
