// SPDX-License-Identifier: MIT
// PageSet: one bit per 4 KiB page of one RAM region, the migrator's working
// set ("pages still to send"). Plain words, owned by the migration thread;
// the concurrent bitmaps (KVM's log, memory::DirtyBitmap) are merged in with
// Or() at each sync.
#ifndef MIGRATION_PAGE_SET_H_
#define MIGRATION_PAGE_SET_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace migration {

class PageSet {
 public:
  explicit PageSet(uint64_t pages = 0) : pages_(pages), words_((pages + 63) / 64, 0) {}

  uint64_t pages() const { return pages_; }
  void SetAll();
  // Both clip [first, end) to the set.
  void Set(uint64_t first, uint64_t end);
  void Clear(uint64_t first, uint64_t end);
  bool Test(uint64_t page) const { return page < pages_ && ((words_[page / 64] >> (page % 64)) & 1); }
  // Whether any page of [first, end) (clipped to the set) is in it.
  bool AnyIn(uint64_t first, uint64_t end) const;
  // Adds a bitmap in the same layout (KVM_GET_DIRTY_LOG, DirtyBitmap::Take);
  // bits beyond pages() are ignored, a shorter bitmap adds what it has.
  void Or(std::span<const uint64_t> words);
  // Removes every page that is in `other`.
  void Subtract(const PageSet& other);
  // Keeps only the pages also in `other`.
  void Intersect(const PageSet& other);
  // Only the pages p with p % 64 == `offset` (a 1-in-64 sample).
  PageSet Sample64(unsigned offset) const;
  // How many pages are in both.
  uint64_t CountCommon(const PageSet& other) const;
  uint64_t Count() const;
  const std::vector<uint64_t>& words() const { return words_; }
  // Calls fn(first, end) for each maximal run of set pages, in order.
  void ForEachRun(const std::function<void(uint64_t, uint64_t)>& fn) const;
  void ClearAll();

 private:
  void MaskTail();
  uint64_t pages_;
  std::vector<uint64_t> words_;
};

}  // namespace migration

#endif  // MIGRATION_PAGE_SET_H_
