#include "devices/balloon/pfn_ranges.h"

#include <algorithm>

namespace devices {

std::vector<PfnRange> CompactPfns(std::span<const uint32_t> pfns) {
  std::vector<uint32_t> sorted(pfns.begin(), pfns.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<PfnRange> ranges;
  for (uint32_t pfn : sorted) {
    // 64-bit end: pfn 0xffffffff must not wrap into 0.
    if (!ranges.empty() && ranges.back().end_pfn() >= pfn) {
      ranges.back().count = std::max<uint64_t>(ranges.back().count, pfn - ranges.back().first_pfn + 1);
      continue;
    }
    ranges.push_back({pfn, 1});
  }
  return ranges;
}

SplitResult SplitAtRegions(std::span<const PfnRange> ranges,
                           std::span<const memory::MappedRegion> regions) {
  SplitResult result;
  for (const PfnRange& range : ranges) {
    // PFNs are below 2^32, so byte addresses stay below 2^44: no overflow.
    const memory::Gpa start = range.first_pfn << kBalloonPfnShift;
    const memory::Gpa end = range.end_pfn() << kBalloonPfnShift;
    uint64_t covered = 0;
    for (const memory::MappedRegion& region : regions) {
      const memory::Gpa lo = std::max(start, region.gpa);
      const memory::Gpa hi = std::min(end, region.end());
      if (lo >= hi) continue;
      // Regions are page aligned, so the pieces are too.
      result.in_ram.push_back({lo, hi - lo});
      covered += hi - lo;
    }
    result.pages_outside += range.count - (covered >> kBalloonPfnShift);
  }
  std::sort(result.in_ram.begin(), result.in_ram.end(),
            [](const GpaRange& a, const GpaRange& b) { return a.gpa < b.gpa; });
  return result;
}

}  // namespace devices
