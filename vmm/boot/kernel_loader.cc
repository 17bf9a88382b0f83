// SPDX-License-Identifier: MIT
#include "vmm/boot/kernel_loader.h"

#include <elf.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/image_file.h"

namespace vmm::boot {
namespace {

absl::StatusOr<LoadedKernel> LoadFromBytes(std::span<const uint8_t> bytes,
                                           memory::GuestMemory& mem) {
  if (bytes.size() >= SELFMAG && std::memcmp(bytes.data(), ELFMAG, SELFMAG) == 0) {
    return LoadElfKernel(bytes, mem);
  }
  if (!LooksLikeBzImage(bytes)) {
    return absl::InvalidArgumentError("not a bzImage or ELF (bad magic)");
  }
  ASSIGN_OR_RETURN(BzImage image, ParseBzImage(bytes));
  ASSIGN_OR_RETURN(std::vector<uint8_t> vmlinux, ExtractVmlinux(image));
  auto kernel = LoadElfKernel(vmlinux, mem);
  if (!kernel.ok()) return Annotate(kernel.status(), "decompressed vmlinux");
  kernel->setup_header = std::move(image.header_bytes);
  return kernel;
}

}  // namespace

absl::StatusOr<LoadedKernel> LoadKernel(absl::string_view path, memory::GuestMemory& mem) {
  std::string what = absl::StrCat("kernel image ", path);
  auto file = ImageFile::Open(path);
  // ImageFile's own messages start with the path already.
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat("kernel image ", file.status().message()));
  }
  auto kernel = LoadFromBytes(file->bytes(), mem);
  if (!kernel.ok()) return Annotate(kernel.status(), what);
  LOG_INFO("%s: loaded [0x%x, 0x%x), 64-bit entry 0x%x%s", what, kernel->load_start,
           kernel->load_end, kernel->entry_64,
           kernel->pvh_entry ? absl::StrCat(", PVH entry 0x", absl::Hex(*kernel->pvh_entry)) : "");
  return kernel;
}

}  // namespace vmm::boot
