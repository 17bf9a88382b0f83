// SPDX-License-Identifier: MIT
// Fuzzes the kernel and initrd loaders (vmm/boot): the first input byte
// picks what the rest is: a kernel image file (ELF vmlinux or bzImage,
// whose payload is decompressed and loaded as ELF), a bzImage parsed on its
// own (setup header, initrd limits), or an initrd placed below a limit and
// above a kernel end taken from the input. Files are memfds opened by path,
// as the VMM opens --kernel and --initrd.
#include <fuzzer/FuzzedDataProvider.h>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "fuzz/fuzz_support.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/kernel_loader.h"

namespace {

// Where a kernel or initrd may land: 4 MiB from 0, populated only where
// written (memfd).
constexpr uint64_t kRamSize = 4 << 20;

std::string FileWith(base::UniqueFd& fd, std::span<const uint8_t> bytes) {
  fd = fuzz::MemfdWith(bytes);
  return "/proc/self/fd/" + std::to_string(fd.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t kind = in.ConsumeIntegral<uint8_t>();
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create({{0, kRamSize}});
  if (!mem.ok()) __builtin_trap();
  base::UniqueFd fd;
  switch (kind % 3) {
    case 0: {
      std::vector<uint8_t> file = in.ConsumeRemainingBytes<uint8_t>();
      absl::StatusOr<vmm::boot::LoadedKernel> kernel = vmm::boot::LoadKernel(FileWith(fd, file), *mem);
      if (kernel.ok()) {
        if (kernel->load_start > kernel->load_end || !mem->IsValidRange(kernel->load_start, kernel->load_end - kernel->load_start)) {
          __builtin_trap();  // claims a load outside RAM
        }
        (void)vmm::boot::InitrdAddrMax(kernel->setup_header);
      }
      break;
    }
    case 1: {
      std::vector<uint8_t> file = in.ConsumeRemainingBytes<uint8_t>();
      absl::StatusOr<vmm::boot::BzImage> image = vmm::boot::ParseBzImage(file);
      if (image.ok()) {
        (void)vmm::boot::InitrdAddrMax(std::optional<std::vector<uint8_t>>(image->header_bytes));
        (void)vmm::boot::SetupHeaderFromBytes(image->header_bytes);
      }
      break;
    }
    case 2: {
      const uint64_t addr_max = in.ConsumeIntegral<uint64_t>();
      const uint64_t kernel_end = in.ConsumeIntegral<uint64_t>();
      std::vector<uint8_t> file = in.ConsumeRemainingBytes<uint8_t>();
      absl::StatusOr<vmm::boot::InitrdPlacement> placed =
          vmm::boot::LoadInitrd(FileWith(fd, file), *mem, addr_max, kernel_end);
      if (placed.ok() && !mem->IsValidRange(placed->gpa, placed->size)) __builtin_trap();
      break;
    }
  }
  return 0;
}
