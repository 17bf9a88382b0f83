// SPDX-License-Identifier: MIT
// ImageFile: a kernel image opened read-only and mapped into the VMM, so a
// large vmlinux (debug info can make it hundreds of MiB) is never copied
// whole into a buffer.
//
// Trust boundary: the file's contents are untrusted input; this class only
// guarantees that bytes() spans exactly the file as it was when opened. The
// file must not be truncated by someone else while it is mapped (a read past
// the new end would fault), which is the usual contract for boot images.
#ifndef VMM_BOOT_IMAGE_FILE_H_
#define VMM_BOOT_IMAGE_FILE_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/scoped_mmap.h"

namespace vmm::boot {

class ImageFile {
 public:
  // Fails with NotFound for a missing file, InvalidArgument for something
  // that is not a regular file or is empty.
  static absl::StatusOr<ImageFile> Open(absl::string_view path);

  ImageFile(ImageFile&&) = default;
  ImageFile& operator=(ImageFile&&) = default;

  std::span<const uint8_t> bytes() const { return {mapping_.data(), mapping_.size()}; }
  const std::string& path() const { return path_; }

 private:
  ImageFile(std::string path, base::ScopedMmap mapping)
      : path_(std::move(path)), mapping_(std::move(mapping)) {}

  std::string path_;
  base::ScopedMmap mapping_;
};

// Returns `status` with "what: " put in front of its message, same code.
absl::Status Annotate(const absl::Status& status, absl::string_view what);

}  // namespace vmm::boot

#endif  // VMM_BOOT_IMAGE_FILE_H_
