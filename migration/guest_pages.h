// SPDX-License-Identifier: MIT
// Guest RAM as the sender sees it: per-region page sets (which pages have
// storage, which pages a list of guest-physical ranges covers), the zero
// test, and a parallel scan that reads pages through the memfd. Used by the
// sender's rounds and by the PVM write check (write_check.h).
//
// Trust boundary: ranges may come from the guest (hints); they are mapped
// onto RAM through GuestMemory::RegionPieces, so a range outside RAM adds
// nothing. Page contents are read, never trusted for anything but their
// fingerprints.
#ifndef MIGRATION_GUEST_PAGES_H_
#define MIGRATION_GUEST_PAGES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "memory/gpa_range.h"
#include "memory/guest_memory.h"
#include "migration/page_set.h"

namespace migration {

bool IsZeroPage(const uint8_t* page);

// The pages of region `region` that have storage (never-touched ones do
// not); nothing is faulted in.
PageSet PopulatedSet(const memory::GuestMemory& mem, size_t region);
// PopulatedSet of every region.
std::vector<PageSet> PopulatedSets(const memory::GuestMemory& mem);

// Guest-physical ranges as per-region page sets (whole pages; the parts
// outside RAM are dropped).
std::vector<PageSet> RangeSets(const memory::GuestMemory& mem, const std::vector<memory::GpaRange>& ranges);
// Whether any page of `range` is in `sets` (per-region sets).
bool AnyPageIn(const memory::GuestMemory& mem, const memory::GpaRange& range, const std::vector<PageSet>& sets);

// How many threads a scan may use.
size_t ScanThreads();
// Calls visit(thread, page, bytes) for every page of `pages` in region
// `region`, read through the memfd (GuestMemory::ReadBacking) in chunks
// shared out over `threads` threads; false if some chunk could not be read
// (its pages were not visited). `visit` may run on several threads at once.
bool ScanPages(const memory::GuestMemory& mem, size_t region, const PageSet& pages,
               const std::function<void(size_t, uint64_t, const uint8_t*)>& visit, size_t threads = ScanThreads());

}  // namespace migration

#endif  // MIGRATION_GUEST_PAGES_H_
