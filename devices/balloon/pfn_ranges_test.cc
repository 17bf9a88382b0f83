// SPDX-License-Identifier: MIT
#include "devices/balloon/pfn_ranges.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace devices {
namespace {

// The reference: a set of PFNs, and the check that ranges describe exactly
// that set in canonical form (sorted, disjoint, non-adjacent, non-empty).
void ExpectCanonicalCover(const std::vector<PfnRange>& ranges, const std::set<uint64_t>& want) {
  std::set<uint64_t> got;
  for (size_t i = 0; i < ranges.size(); ++i) {
    ASSERT_GT(ranges[i].count, 0u);
    if (i > 0) {
      ASSERT_GT(ranges[i].first_pfn, ranges[i - 1].end_pfn()) << "not merged or unsorted";
    }
    for (uint64_t p = ranges[i].first_pfn; p < ranges[i].end_pfn(); ++p) got.insert(p);
  }
  EXPECT_EQ(got, want);
}

TEST(CompactPfns, EmptyInputGivesNoRanges) { EXPECT_TRUE(CompactPfns({}).empty()); }

TEST(CompactPfns, SortsDedupsAndMerges) {
  std::vector<uint32_t> pfns = {7, 3, 4, 5, 5, 3, 10, 9, 100};
  EXPECT_EQ(CompactPfns(pfns),
            (std::vector<PfnRange>{{3, 3}, {7, 1}, {9, 2}, {100, 1}}));
}

TEST(CompactPfns, HandlesTopOfRangeWithoutWrapping) {
  std::vector<uint32_t> pfns = {0xffffffff, 0, 0xfffffffe};
  EXPECT_EQ(CompactPfns(pfns), (std::vector<PfnRange>{{0, 1}, {0xfffffffe, 2}}));
}

TEST(CompactPfns, ExhaustiveOverAllSubsetsOfSmallUniverse) {
  // Every subset of 12 PFNs, each listed in a shuffled order with repeats.
  std::mt19937 rng(1);
  for (uint32_t mask = 0; mask < (1u << 12); ++mask) {
    std::vector<uint32_t> pfns;
    std::set<uint64_t> want;
    for (uint32_t bit = 0; bit < 12; ++bit) {
      if (mask & (1u << bit)) {
        pfns.push_back(bit + 1000);
        if (rng() % 3 == 0) pfns.push_back(bit + 1000);
        want.insert(bit + 1000);
      }
    }
    std::shuffle(pfns.begin(), pfns.end(), rng);
    ExpectCanonicalCover(CompactPfns(pfns), want);
  }
}

TEST(CompactPfns, RandomizedAgainstReferenceSet) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    const uint32_t universe = 1 + rng() % 600;
    const uint32_t base = rng() % 2 ? 0 : 0xffffffff - universe;
    std::vector<uint32_t> pfns(rng() % 512);
    std::set<uint64_t> want;
    for (uint32_t& p : pfns) {
      p = base + rng() % universe;
      want.insert(p);
    }
    ExpectCanonicalCover(CompactPfns(pfns), want);
  }
}

memory::GuestMemory& Regions() {
  // Two regions: pages [0, 16) and [32, 48).
  static memory::GuestMemory mem = *memory::GuestMemory::Create({{0, 16 * 4096}, {32 * 4096, 16 * 4096}});
  return mem;
}

TEST(SplitAtRegions, ClipsAndSplitsAtRegionBoundaries) {
  std::vector<PfnRange> ranges = {{2, 3}, {14, 20}, {47, 5}, {100, 2}};
  SplitResult r = SplitAtRegions(ranges, Regions());
  EXPECT_EQ(r.in_ram, (std::vector<memory::GpaRange>{{2 * 4096, 3 * 4096},
                                             {14 * 4096, 2 * 4096},
                                             {32 * 4096, 2 * 4096},
                                             {47 * 4096, 1 * 4096}}));
  // [16,32) of the second range, 4 of the third and both of the fourth.
  EXPECT_EQ(r.pages_outside, 16u + 4 + 2);
}

TEST(SplitAtRegions, RangeSpanningBothRegions) {
  std::vector<PfnRange> ranges = {{0, 48}};
  SplitResult r = SplitAtRegions(ranges, Regions());
  EXPECT_EQ(r.in_ram.size(), 2u);
  EXPECT_EQ(r.pages_outside, 16u);
}

TEST(SplitAtRegions, RandomizedPageAccounting) {
  std::mt19937 rng(7);
  const memory::GuestMemory& regions = Regions();
  auto in_ram = [](uint64_t p) { return p < 16 || (p >= 32 && p < 48); };
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<uint32_t> pfns(rng() % 64);
    for (uint32_t& p : pfns) p = rng() % 64;
    std::set<uint64_t> unique(pfns.begin(), pfns.end());
    SplitResult r = SplitAtRegions(CompactPfns(pfns), regions);
    std::set<uint64_t> got;
    for (const memory::GpaRange& g : r.in_ram) {
      for (uint64_t a = g.start; a < g.end(); a += 4096) got.insert(a / 4096);
    }
    std::set<uint64_t> want;
    uint64_t outside = 0;
    for (uint64_t p : unique) in_ram(p) ? (void)want.insert(p) : (void)++outside;
    EXPECT_EQ(got, want);
    EXPECT_EQ(r.pages_outside, outside);
  }
}

}  // namespace
}  // namespace devices
