// SPDX-License-Identifier: MIT
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

memory::GpaRange ToGpaRange(const PfnRange& range) {
  // PFNs are below 2^32 (32-bit in the protocol, 64-bit ends from
  // CompactPfns), so byte addresses stay below 2^44: no overflow.
  return {range.first_pfn << kBalloonPfnShift, range.count << kBalloonPfnShift};
}

SplitResult SplitAtRegions(std::span<const PfnRange> ranges, const memory::GuestMemory& mem) {
  SplitResult result;
  for (const PfnRange& range : ranges) {
    uint64_t covered = 0;
    // Regions are page aligned, so the pieces are too.
    for (const memory::RegionPiece& piece : mem.RegionPieces(ToGpaRange(range))) {
      result.in_ram.push_back(piece.range);
      covered += piece.range.length;
    }
    result.pages_outside += range.count - (covered >> kBalloonPfnShift);
  }
  std::sort(result.in_ram.begin(), result.in_ram.end(),
            [](const memory::GpaRange& a, const memory::GpaRange& b) { return a.start < b.start; });
  return result;
}

}  // namespace devices
