// SPDX-License-Identifier: MIT
#include "devices/balloon/hugepage_discard_tracker.h"

#include <algorithm>

namespace devices {

HugePageDiscardTracker::HugePageDiscardTracker(uint64_t host_page_bytes)
    : granule_(std::max<uint64_t>(1, host_page_bytes >> kBalloonPfnShift)) {}

std::vector<PfnRange> HugePageDiscardTracker::Inflate(PageBitmap& ballooned, const PfnRange& range) const {
  if (granule_ == 1) {
    ballooned.Set(range.first_pfn, range.count);
    return {range};
  }
  if (range.count == 0) return {};
  const uint64_t first = range.first_pfn / granule_;
  const uint64_t end = (range.end_pfn() + granule_ - 1) / granule_;
  // Which touched huge pages were complete before: those were discarded
  // already (a guest may name a ballooned page again) and must not be
  // counted twice.
  std::vector<bool> was_complete(end - first);
  for (uint64_t g = first; g < end; ++g) was_complete[g - first] = ballooned.AllSet(g * granule_, granule_);
  ballooned.Set(range.first_pfn, range.count);
  std::vector<PfnRange> complete;
  for (uint64_t g = first; g < end; ++g) {
    if (was_complete[g - first] || !ballooned.AllSet(g * granule_, granule_)) continue;
    if (!complete.empty() && complete.back().end_pfn() == g * granule_) {
      complete.back().count += granule_;
    } else {
      complete.push_back({g * granule_, granule_});
    }
  }
  return complete;
}

std::vector<PfnRange> HugePageDiscardTracker::WholeHostPagesWithin(const PfnRange& range) const {
  const uint64_t first = (range.first_pfn + granule_ - 1) / granule_ * granule_;
  const uint64_t end = range.end_pfn() / granule_ * granule_;
  if (first >= end) return {};
  return {{first, end - first}};
}

uint64_t HugePageDiscardTracker::PagesWaitingForTheirHugePage(const PageBitmap& ballooned) const {
  if (granule_ == 1) return 0;
  uint64_t waiting = 0;
  for (uint64_t g = 0; g * granule_ < ballooned.num_pages(); ++g) {
    if (!ballooned.AllSet(g * granule_, granule_)) waiting += ballooned.CountIn(g * granule_, granule_);
  }
  return waiting;
}

}  // namespace devices
