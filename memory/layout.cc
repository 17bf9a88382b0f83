// SPDX-License-Identifier: MIT
#include "memory/layout.h"

#include <algorithm>

namespace memory {

std::vector<RamRegion> RamRegionsForSize(uint64_t ram_size) {
  std::vector<RamRegion> regions;
  uint64_t low = std::min(ram_size, kMmioHoleStart);
  regions.push_back({0, low});
  if (ram_size > low) regions.push_back({kMmioHoleEnd, ram_size - low});
  return regions;
}

std::vector<E820Entry> E820Map(const std::vector<RamRegion>& ram) {
  std::vector<E820Entry> map;
  for (const RamRegion& region : ram) {
    if (region.start == 0) {
      map.push_back({0, kEbdaStart, E820Type::kRam});
      map.push_back({kEbdaStart, kHighMemoryStart - kEbdaStart, E820Type::kReserved});
      if (region.length > kHighMemoryStart) {
        map.push_back({kHighMemoryStart, region.length - kHighMemoryStart, E820Type::kRam});
      }
    } else {
      map.push_back({region.start, region.length, E820Type::kRam});
    }
  }
  return map;
}

}  // namespace memory
