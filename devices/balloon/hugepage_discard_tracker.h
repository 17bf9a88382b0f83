// SPDX-License-Identifier: MIT
// HugePageDiscardTracker: what the balloon may give back to the host when
// guest RAM is built of huge pages (--memory-backend thp or hugetlb).
//
// A stock guest balloons 4 KiB pages. Punching 4 KiB out of a 2 MiB page
// frees nothing on hugetlbfs and splits a shmem THP, so with huge pages the
// balloon discards whole 2 MiB pages only: a 4 KiB inflate is recorded in
// the ballooned-page bitmap, and the huge page goes back in one discard
// when its last 4 KiB page arrives, whatever the order and however many
// requests it took. The bitmap is the whole state: a huge page whose pages
// are all ballooned has been discarded, one with some pages ballooned is
// waiting. It is migrated and snapshotted already, so the tracking
// survives both with nothing added.
//
// Deflating part of a discarded huge page needs nothing here: the page is
// gone already, and the deflated 4 KiB pages read as zero when the guest
// touches them (the host then backs the whole huge page again, which the
// pages still ballooned in it share until they are deflated, or until the
// guest inflates the deflated ones again and completes the page).
//
// With 4 KiB backing the tracker is a pass-through: every range is
// discarded as it arrives, as before huge pages existed.
#ifndef DEVICES_BALLOON_HUGEPAGE_DISCARD_TRACKER_H_
#define DEVICES_BALLOON_HUGEPAGE_DISCARD_TRACKER_H_

#include <cstdint>
#include <vector>

#include "devices/balloon/page_bitmap.h"
#include "devices/balloon/pfn_ranges.h"

namespace devices {

class HugePageDiscardTracker {
 public:
  // `host_page_bytes`: the backing page size (4 KiB or 2 MiB; a power of
  // two multiple of 4 KiB).
  explicit HugePageDiscardTracker(uint64_t host_page_bytes);

  uint64_t pages_per_host_page() const { return granule_; }

  // Marks `range` ballooned and returns the ranges to discard now: the
  // range itself with 4 KiB backing; with huge pages, the huge pages this
  // call completed (every 4 KiB page ballooned now, not all before),
  // adjacent ones merged so each run costs one discard.
  std::vector<PfnRange> Inflate(PageBitmap& ballooned, const PfnRange& range) const;

  // The whole host pages inside `range` (free page reporting gives back
  // what it names at once, but only whole huge pages without splitting).
  std::vector<PfnRange> WholeHostPagesWithin(const PfnRange& range) const;

  // Ballooned 4 KiB pages that are still backed because their huge page
  // is not complete yet (0 with 4 KiB backing).
  uint64_t PagesWaitingForTheirHugePage(const PageBitmap& ballooned) const;

 private:
  uint64_t granule_;  // 4 KiB pages per host page
};

}  // namespace devices

#endif  // DEVICES_BALLOON_HUGEPAGE_DISCARD_TRACKER_H_
