// SPDX-License-Identifier: MIT
#include "vmm/boot/x86_boot.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "memory/layout.h"
#include "vmm/acpi/tables.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/kvm/cpuid.h"
#include "vmm/kvm/x86_cpu_setup.h"

namespace vmm::boot {
namespace {

// What the kernel's pool needs to count as fully seeded (256 bits).
constexpr size_t kBootRngSeedBytes = 32;

// The MSRs set at boot that this KVM can save; others keep KVM's reset
// values.
absl::StatusOr<std::vector<kvm_msr_entry>> SupportedBootMsrs(const Kvm& kvm) {
  ASSIGN_OR_RETURN(std::vector<uint32_t> supported, kvm.MsrIndexList());
  std::vector<kvm_msr_entry> msrs;
  for (const kvm_msr_entry& m : BootMsrs()) {
    if (std::find(supported.begin(), supported.end(), m.index) != supported.end()) msrs.push_back(m);
  }
  return msrs;
}

absl::Status SetUpVcpu(Vcpu& vcpu, const std::vector<kvm_msr_entry>& msrs, uint64_t entry, uint64_t boot_params) {
  RETURN_IF_ERROR(vcpu.SetMsrs(msrs));
  ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.GetLapic());
  RETURN_IF_ERROR(vcpu.SetLapic(ConfigureLapicLints(lapic)));
  // Application processors wait for INIT/SIPI from the boot CPU, in the
  // state KVM gives them.
  if (vcpu.id() != 0) return absl::OkStatus();
  RETURN_IF_ERROR(vcpu.SetFpu(BootFpu()));
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  RETURN_IF_ERROR(vcpu.SetSregs(LongModeSregs(sregs)));
  RETURN_IF_ERROR(vcpu.SetRegs(BootRegs(entry, boot_params)));
  return absl::OkStatus();
}

}  // namespace

std::vector<uint8_t> BootRngSeed() {
  std::vector<uint8_t> seed(kBootRngSeedBytes);
  if (::getrandom(seed.data(), seed.size(), GRND_NONBLOCK) != static_cast<ssize_t>(seed.size())) {
    LOG_WARNING("no RNG seed for the guest: getrandom: %s", std::strerror(errno));
    seed.clear();
  }
  return seed;
}

absl::StatusOr<std::vector<std::unique_ptr<Vcpu>>> CreateVcpus(const Kvm& kvm, const Vm& vm, uint32_t cpus) {
  ASSIGN_OR_RETURN(std::vector<kvm_cpuid_entry2> supported, kvm.SupportedCpuid());
  std::vector<std::unique_ptr<Vcpu>> vcpus;
  for (uint32_t id = 0; id < cpus; ++id) {
    ASSIGN_OR_RETURN(Vcpu vcpu, Vcpu::Create(kvm, vm, id));
    vcpus.push_back(std::make_unique<Vcpu>(std::move(vcpu)));
    RETURN_IF_ERROR(vcpus.back()->SetCpuid(
        AdjustCpuid(supported, {.vcpu_id = id, .vcpu_count = cpus, .pvm_host = kvm.is_pvm()})));
  }
  return vcpus;
}

absl::StatusOr<std::vector<std::unique_ptr<Vcpu>>> LoadGuest(const Kvm& kvm, const Vm& vm,
                                                             memory::GuestMemory& mem,
                                                             const GuestBootConfig& config) {
  ASSIGN_OR_RETURN(LoadedKernel kernel, LoadKernel(config.kernel_path, mem));

  std::optional<InitrdPlacement> initrd;
  if (!config.initrd_path.empty()) {
    ASSIGN_OR_RETURN(initrd,
                     LoadInitrd(config.initrd_path, mem, InitrdAddrMax(kernel.setup_header), kernel.load_end));
  }

  acpi::AcpiConfig acpi_config{.num_cpus = config.cpus,
                               .virtio_mmio = {config.virtio_mmio.begin(), config.virtio_mmio.end()}};
  ASSIGN_OR_RETURN(acpi::AcpiTables tables,
                   acpi::BuildAcpiTables(acpi_config, memory::kBiosRomStart,
                                         memory::kBiosRomEnd - memory::kBiosRomStart));
  RETURN_IF_ERROR(mem.WriteBytes(tables.base_gpa, tables.bytes));

  std::string cmdline = config.cmdline;
  if (kvm.is_pvm()) absl::StrAppend(&cmdline, " ", kPvmKernelOptions);
  if (config.mmio_cmdline) {
    // For kernels without ACPI: virtio_mmio.device=<size>@<base>:<irq>.
    for (const acpi::MmioDevice& d : config.virtio_mmio) {
      absl::StrAppend(&cmdline, absl::StrFormat(" virtio_mmio.device=%uK@0x%x:%u", d.size >> 10, d.base, d.irq));
    }
  }

  std::vector<memory::RamRegion> ram;
  for (const memory::MappedRegion& r : mem.Regions()) ram.push_back({r.gpa, r.size});
  RETURN_IF_ERROR(WriteBootParams(mem, BootParamsInput{
                                           .setup_header = kernel.setup_header,
                                           .cmdline = cmdline,
                                           .initrd = initrd,
                                           .e820 = memory::E820Map(ram),
                                           .acpi_rsdp_addr = tables.rsdp_gpa,
                                           .rng_seed = BootRngSeed(),
                                       }));
  RETURN_IF_ERROR(WriteIdentityPageTables(mem));
  RETURN_IF_ERROR(WriteBootGdt(mem));

  ASSIGN_OR_RETURN(std::vector<kvm_msr_entry> msrs, SupportedBootMsrs(kvm));
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Vcpu>> vcpus, CreateVcpus(kvm, vm, config.cpus));
  for (const std::unique_ptr<Vcpu>& vcpu : vcpus) {
    RETURN_IF_ERROR(SetUpVcpu(*vcpu, msrs, kernel.entry_64, memory::kBootParamsAddress));
  }
  return vcpus;
}

}  // namespace vmm::boot
