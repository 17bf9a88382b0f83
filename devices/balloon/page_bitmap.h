// SPDX-License-Identifier: MIT
// PageBitmap: one bit per 4 KiB guest page frame from 0 up to the end of
// the highest RAM region. The balloon marks the pages the guest gave up, so
// the migrator can skip them; the MMIO hole costs a few bits per page and
// keeps lookups a shift and a mask.
#ifndef DEVICES_BALLOON_PAGE_BITMAP_H_
#define DEVICES_BALLOON_PAGE_BITMAP_H_

#include <cstdint>
#include <vector>

#include "devices/balloon/pfn_ranges.h"

namespace devices {

class PageBitmap {
 public:
  PageBitmap() = default;
  explicit PageBitmap(uint64_t num_pages);

  uint64_t num_pages() const { return num_pages_; }
  // Both clip [first, first + count) to the bitmap.
  void Set(uint64_t first_pfn, uint64_t count);
  void Clear(uint64_t first_pfn, uint64_t count);
  void ClearAll();
  bool Test(uint64_t pfn) const;
  // Whether any / every page of [first, first + count) is set; pages
  // beyond the bitmap count as clear. AllSet of an empty range is true.
  bool AnySet(uint64_t first_pfn, uint64_t count) const;
  bool AllSet(uint64_t first_pfn, uint64_t count) const;
  // Set pages in [first, first + count), clipped to the bitmap.
  uint64_t CountIn(uint64_t first_pfn, uint64_t count) const;
  uint64_t CountSet() const { return set_; }
  // The set bits as sorted, maximal ranges.
  std::vector<PfnRange> Ranges() const;
  // The raw words (bit p of word w = page 64w + p), for migration.
  const std::vector<uint64_t>& words() const { return words_; }
  // False (and unchanged) unless `words` has exactly this bitmap's size
  // and no bit beyond num_pages().
  bool Assign(const std::vector<uint64_t>& words);

 private:
  void Update(uint64_t first_pfn, uint64_t count, bool value);

  uint64_t num_pages_ = 0;
  uint64_t set_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace devices

#endif  // DEVICES_BALLOON_PAGE_BITMAP_H_
