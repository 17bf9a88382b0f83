// SPDX-License-Identifier: MIT
// ScopedMmap: sole owner of one mmap()ed range, unmapped on destruction.
#ifndef BASE_SCOPED_MMAP_H_
#define BASE_SCOPED_MMAP_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"

namespace base {

class ScopedMmap {
 public:
  ScopedMmap() = default;
  // Maps `length` bytes of `fd` (or anonymous memory when fd < 0).
  static absl::StatusOr<ScopedMmap> Map(size_t length, int prot, int flags, int fd = -1,
                                        off_t offset = 0);
  ScopedMmap(ScopedMmap&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), length_(std::exchange(other.length_, 0)) {}
  ScopedMmap& operator=(ScopedMmap&& other) noexcept;
  ScopedMmap(const ScopedMmap&) = delete;
  ScopedMmap& operator=(const ScopedMmap&) = delete;
  ~ScopedMmap() { Reset(); }

  uint8_t* data() const { return data_; }
  size_t size() const { return length_; }
  void Reset();

 private:
  ScopedMmap(uint8_t* data, size_t length) : data_(data), length_(length) {}
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
};

}  // namespace base

#endif  // BASE_SCOPED_MMAP_H_
