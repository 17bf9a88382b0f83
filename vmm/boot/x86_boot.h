// SPDX-License-Identifier: MIT
// Boots an x86-64 Linux guest the way the kernel's 64-bit boot protocol
// expects (Documentation/arch/x86/boot.rst): loads the kernel and initrd
// into guest RAM, writes the ACPI tables, boot_params (command line, e820,
// RNG seed), identity page tables and GDT, and creates the vCPUs with their
// CPUID, MSRs and LAPIC; the boot CPU starts in long mode at the kernel's
// 64-bit entry, the others wait for INIT/SIPI.
//
// Trust boundary: the kernel and initrd files are the user's and are
// parsed as untrusted (vmm/boot's loaders check them); everything else
// comes from the VMM's own configuration.
#ifndef VMM_BOOT_X86_BOOT_H_
#define VMM_BOOT_X86_BOOT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"
#include "vmm/acpi/acpi_config.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"

namespace vmm::boot {

struct GuestBootConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint32_t cpus = 1;
  // Described in the ACPI tables, and with mmio_cmdline also on the kernel
  // command line (for kernels without ACPI).
  std::span<const acpi::MmioDevice> virtio_mmio;
  bool mmio_cmdline = false;
};

// Loads the guest into `mem` and returns its vCPUs, ready to run.
absl::StatusOr<std::vector<std::unique_ptr<Vcpu>>> LoadGuest(const Kvm& kvm, const Vm& vm,
                                                             memory::GuestMemory& mem,
                                                             const GuestBootConfig& config);

// `cpus` vCPUs with only their CPUID set (the one a booted guest gets on
// this host kind): for a guest whose state arrives by migration.
absl::StatusOr<std::vector<std::unique_ptr<Vcpu>>> CreateVcpus(const Kvm& kvm, const Vm& vm, uint32_t cpus);

// A seed for the guest's RNG from the host's; empty (no seed, the guest
// gathers entropy itself, slowly under emulation) if the host has none.
std::vector<uint8_t> BootRngSeed();

}  // namespace vmm::boot

#endif  // VMM_BOOT_X86_BOOT_H_
