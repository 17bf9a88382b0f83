// SPDX-License-Identifier: MIT
// The one entry point for loading a guest kernel: sniffs the file (ELF
// vmlinux or bzImage), decompresses a bzImage's payload on the host, and
// loads the resulting vmlinux into guest memory.
#ifndef VMM_BOOT_KERNEL_LOADER_H_
#define VMM_BOOT_KERNEL_LOADER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "memory/guest_memory.h"
#include "vmm/boot/elf_loader.h"

namespace vmm::boot {

// Every error names the file: "kernel image /x: not a bzImage or ELF (bad
// magic)". NotFound for a missing file, InvalidArgument/DataLoss for an
// empty, truncated or corrupt one, Unimplemented for an unsupported
// compression, OutOfRange when the kernel does not fit in guest RAM.
absl::StatusOr<LoadedKernel> LoadKernel(absl::string_view path, memory::GuestMemory& mem);

}  // namespace vmm::boot

#endif  // VMM_BOOT_KERNEL_LOADER_H_
