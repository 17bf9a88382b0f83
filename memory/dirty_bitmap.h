// SPDX-License-Identifier: MIT
// DirtyBitmap: one bit per 4 KiB page of a RAM region, set concurrently by
// any thread that writes guest memory on the VMM's side (device rings,
// discards) and taken, word by word, by the migrator. KVM's dirty log only
// sees writes made by vCPUs; this bitmap covers the rest.
//
// Set and Take are lock-free (atomic OR / exchange per 64-page word), so a
// page written while Take runs is either in this take or the next, never
// lost.
#ifndef MEMORY_DIRTY_BITMAP_H_
#define MEMORY_DIRTY_BITMAP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace memory {

class DirtyBitmap {
 public:
  explicit DirtyBitmap(uint64_t pages);

  uint64_t pages() const { return pages_; }
  // Marks pages [first, first + count), clipped to the bitmap.
  void Set(uint64_t first, uint64_t count);
  // The set bits as words (bit i of word w = page 64*w + i), cleared.
  std::vector<uint64_t> Take();

 private:
  uint64_t pages_;
  size_t words_;
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
};

}  // namespace memory

#endif  // MEMORY_DIRTY_BITMAP_H_
