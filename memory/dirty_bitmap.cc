// SPDX-License-Identifier: MIT
#include "memory/dirty_bitmap.h"

#include <algorithm>

namespace memory {

DirtyBitmap::DirtyBitmap(uint64_t pages)
    : pages_(pages), words_((pages + 63) / 64), bits_(std::make_unique<std::atomic<uint64_t>[]>(words_)) {
  for (size_t i = 0; i < words_; ++i) bits_[i].store(0, std::memory_order_relaxed);
}

void DirtyBitmap::Set(uint64_t first, uint64_t count) {
  if (first >= pages_) return;
  const uint64_t end = first + std::min(count, pages_ - first);
  for (uint64_t page = first; page < end;) {
    const uint64_t bit = page % 64;
    const uint64_t n = std::min<uint64_t>(64 - bit, end - page);
    const uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
    bits_[page / 64].fetch_or(mask, std::memory_order_release);
    page += n;
  }
}

std::vector<uint64_t> DirtyBitmap::Take() {
  std::vector<uint64_t> out(words_);
  for (size_t i = 0; i < words_; ++i) {
    // Cheap skip of clean words: only a set word needs the exchange.
    if (bits_[i].load(std::memory_order_relaxed) != 0) {
      out[i] = bits_[i].exchange(0, std::memory_order_acq_rel);
    }
  }
  return out;
}

}  // namespace memory
