// SPDX-License-Identifier: MIT
#include "base/scoped_mmap.h"

#include <sys/mman.h>

#include <cerrno>

namespace base {

absl::StatusOr<ScopedMmap> ScopedMmap::Map(size_t length, int prot, int flags, int fd,
                                           off_t offset) {
  if (length == 0) return absl::InvalidArgumentError("mmap of zero length");
  void* addr = ::mmap(nullptr, length, prot, flags, fd, offset);
  if (addr == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap");
  return ScopedMmap(static_cast<uint8_t*>(addr), length);
}

ScopedMmap& ScopedMmap::operator=(ScopedMmap&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

void ScopedMmap::Reset() {
  if (data_ != nullptr) ::munmap(data_, length_);
  data_ = nullptr;
  length_ = 0;
}

}  // namespace base
