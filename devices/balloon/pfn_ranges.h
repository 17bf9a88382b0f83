// SPDX-License-Identifier: MIT
// Pure helpers that turn the PFN lists a balloon driver sends into the
// fewest guest-physical ranges: CompactPfns sorts, dedups and merges, and
// SplitAtRegions clips the result to RAM (GuestMemory::RegionPieces) so that
// each piece can be handed to one GuestMemory::Discard call. No guest memory
// access: the device reads PFNs, these functions only do arithmetic on them.
#ifndef DEVICES_BALLOON_PFN_RANGES_H_
#define DEVICES_BALLOON_PFN_RANGES_H_

#include <cstdint>
#include <span>
#include <vector>

#include "memory/guest_memory.h"

namespace devices {

// Balloon PFNs are in 4 KiB units regardless of the guest's page size
// (VIRTIO_BALLOON_PFN_SHIFT).
inline constexpr unsigned kBalloonPfnShift = 12;

struct PfnRange {
  uint64_t first_pfn = 0;
  uint64_t count = 0;
  uint64_t end_pfn() const { return first_pfn + count; }
  bool operator==(const PfnRange&) const = default;
};

// Sorted, disjoint, non-adjacent ranges covering exactly the set of `pfns`.
std::vector<PfnRange> CompactPfns(std::span<const uint32_t> pfns);

// The guest-physical bytes of `range`.
memory::GpaRange ToGpaRange(const PfnRange& range);

struct SplitResult {
  std::vector<memory::GpaRange> in_ram;  // each inside one region, page aligned
  uint64_t pages_outside = 0;    // pages of the input that are not RAM
};

// Intersects `ranges` (sorted and disjoint, as CompactPfns returns) with
// the RAM regions of `mem`, splitting at region boundaries.
SplitResult SplitAtRegions(std::span<const PfnRange> ranges, const memory::GuestMemory& mem);

}  // namespace devices

#endif  // DEVICES_BALLOON_PFN_RANGES_H_
