// SPDX-License-Identifier: MIT
#include "vmm/boot/image_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"

namespace vmm::boot {

absl::Status Annotate(const absl::Status& status, absl::string_view what) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

absl::StatusOr<ImageFile> ImageFile::Open(absl::string_view path) {
  std::string name(path);
  base::UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat(name, ": cannot open"));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(name, ": cannot stat"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a regular file"));
  }
  if (st.st_size == 0) return absl::InvalidArgumentError(absl::StrCat(name, ": file is empty"));
  // MAP_PRIVATE + PROT_READ: we never write the image, and a private mapping
  // keeps our view stable against writes made through other descriptors.
  auto mapping =
      base::ScopedMmap::Map(static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (!mapping.ok()) return Annotate(mapping.status(), name);
  return ImageFile(std::move(name), std::move(*mapping));
}

}  // namespace vmm::boot
