// SPDX-License-Identifier: MIT
#include "migration/write_check.h"

#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/crc32c.h"
#include "migration/guest_pages.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;

}  // namespace

WriteCheck::WriteCheck(const memory::GuestMemory& mem) : mem_(mem) {
  for (const memory::MappedRegion& r : mem.Regions()) {
    page_crc_.emplace_back(r.size / kPage);
    known_.emplace_back(r.size / kPage);
    hinted_.emplace_back(r.size / kPage);
    bypassed_.emplace_back(r.size / kPage);
  }
}

void WriteCheck::RecordSent(size_t region, uint64_t page, const uint8_t* data, bool zero) {
  page_crc_[region][page] = zero ? ZeroPageFingerprint() : PageFingerprint(data);
  known_[region].Set(page, page + 1);
}

void WriteCheck::SetHinted(std::vector<PageSet> hinted) {
  if (hinted.size() == hinted_.size()) hinted_ = std::move(hinted);
}

void WriteCheck::RecordHintBaseline(const std::vector<PageSet>& hinted, const std::vector<PageSet>& populated,
                                    size_t threads) {
  for (size_t i = 0; i < page_crc_.size() && i < hinted.size() && i < populated.size(); ++i) {
    // Only the sample has fingerprints (see ChangedPages). A hole reads as
    // zeros; a read fault may fill it with a zero page later, which is no
    // change.
    PageSet sampled = hinted[i].Sample64(hint_sample_);
    if (sampled.Count() == 0) continue;
    sampled.ForEachRun([&](uint64_t first, uint64_t end) {
      for (uint64_t p = first; p < end; ++p) page_crc_[i][p] = ZeroPageFingerprint();
    });
    sampled.Intersect(populated[i]);
    // Each page is visited once, so the threads write disjoint entries. A
    // page that cannot be read keeps the zero fingerprint and, if it holds
    // data, shows up as changed later: sent, never lost.
    (void)ScanPages(
        mem_, i, sampled, [&](size_t, uint64_t p, const uint8_t* data) { page_crc_[i][p] = PageFingerprint(data); },
        threads);
  }
}

std::vector<PageSet> WriteCheck::ChangedPages(const std::vector<PageSet>& exclude, HintedPages hinted_pages,
                                              std::vector<PageSet>& unfingerprinted) {
  const std::vector<memory::MappedRegion>& regions = mem_.Regions();
  std::vector<PageSet> changed_sets;
  unfingerprinted.clear();
  for (size_t i = 0; i < regions.size(); ++i) {
    PageSet candidates = PopulatedSet(mem_, i);
    candidates.Subtract(exclude[i]);
    // Held hinted pages outside the sample have no fingerprint to compare
    // with: with kAll they go to `unfingerprinted`, for the caller to send.
    PageSet held = hinted_[i];
    held.Subtract(known_[i]);
    if (hinted_pages != HintedPages::kNone) held.Subtract(held.Sample64(hint_sample_));
    PageSet not_compared(regions[i].size / kPage);
    if (hinted_pages == HintedPages::kAll) {
      not_compared = held;
      not_compared.Intersect(candidates);
    }
    candidates.Subtract(held);
    unfingerprinted.push_back(std::move(not_compared));
    std::vector<std::vector<uint64_t>> changed(ScanThreads());
    const bool read_all = ScanPages(mem_, i, candidates, [&](size_t t, uint64_t p, const uint8_t* page) {
      const bool hinted = hinted_[i].Test(p) && !known_[i].Test(p);
      if (known_[i].Test(p) || hinted) {
        // The destination holds this fingerprint's content, or the page is
        // free memory the guest has not touched since it hinted it.
        if (PageFingerprint(page) != page_crc_[i][p]) changed[t].push_back(p);
      } else if (!IsZeroPage(page)) {
        changed[t].push_back(p);  // never sent and not zero: the destination lacks it
      }
    });
    // Pages that could not be read count as changed: sending them again is
    // always safe.
    PageSet set = read_all ? PageSet(regions[i].size / kPage) : candidates;
    for (const std::vector<uint64_t>& pages : changed) {
      for (uint64_t p : pages) set.Set(p, p + 1);
    }
    changed_sets.push_back(std::move(set));
  }
  return changed_sets;
}

absl::Status WriteCheck::LiveCheck(std::vector<PageSet>& next, HintedPages hinted, uint32_t round,
                                   const TakeDirty& take_dirty) {
  const absl::Time start = absl::Now();
  absl::Cleanup timed = [&] { check_ms_ += absl::ToDoubleMilliseconds(absl::Now() - start); };
  std::vector<PageSet> unfingerprinted;
  std::vector<PageSet> changed = ChangedPages(next, hinted, unfingerprinted);
  // Tracking marks a page before the write that changes it lands, so any
  // change the scan saw through ordinary tracking is in this sync.
  ASSIGN_OR_RETURN(std::vector<PageSet> explained, take_dirty());
  ++live_checks_;
  new_misses_in_last_check_ = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    PageSet missed = changed[i];
    missed.Subtract(explained[i]);
    const uint64_t count = missed.Count();
    if (count > 0) {
      live_misses_ += count;
      unlogged_pages_ += count;
      PageSet fresh = missed;
      fresh.Subtract(bypassed_[i]);
      new_misses_in_last_check_ += fresh.Count();
      bypassed_[i].Or(missed.words());
      // Which pages, to find the writer that bypasses the tracking.
      std::string first_few;
      int listed = 0;
      missed.ForEachRun([&](uint64_t first, uint64_t end) {
        if (listed++ < 8) {
          absl::StrAppendFormat(&first_few, " 0x%x+%u", mem_.Regions()[i].gpa + first * kPage, end - first);
        }
      });
      LOG_INFO("migration: round %u: %u pages changed without a dirty-log or write-tracking entry (gpa+pages:%s%s)",
               round, count, first_few, listed > 8 ? " ..." : "");
    }
    next[i].Or(explained[i].words());
    next[i].Or(changed[i].words());
  }
  AddUnfingerprinted(unfingerprinted, next);
  return absl::OkStatus();
}

bool WriteCheck::WantsAnotherCheck() const {
  return new_misses_in_last_check_ > 0 && live_checks_ < kMaxLiveChecks;
}

void WriteCheck::AddUnfingerprinted(const std::vector<PageSet>& unfingerprinted, std::vector<PageSet>& sets) {
  uint64_t count = 0;
  for (size_t i = 0; i < unfingerprinted.size() && i < sets.size(); ++i) {
    count += unfingerprinted[i].Count();
    sets[i].Or(unfingerprinted[i].words());
  }
  if (count > 0) {
    LOG_INFO("migration: the tracking missed writes, so the %u hinted pages the guest still holds and no check can "
             "compare are sent",
             count);
  }
}

bool WriteCheck::BypassedPagesAreStable() const {
  uint64_t count = 0;
  for (const PageSet& b : bypassed_) count += b.Count();
  return live_checks_ >= 2 && new_misses_in_last_check_ == 0 && count <= kMaxBypassedPages;
}

WriteCheck::PausedPass WriteCheck::Paused(const std::vector<PageSet>& last) {
  PausedPass pass;
  if (live_misses_ == 0) return pass;
  if (BypassedPagesAreStable()) {
    // The tracking misses writes to a few fixed pages only (pages the host
    // writes through a long-held mapping, say): those go again.
    for (const PageSet& b : bypassed_) pass.bypassed += b.Count();
    pass.pages = bypassed_;
    return pass;
  }
  // The tracking misses writes anywhere: re-check every page (see
  // FORMAT.md, "Verified final pass").
  std::vector<PageSet> unfingerprinted;
  pass.pages = ChangedPages(last, HintedPages::kAll, unfingerprinted);
  for (const PageSet& f : pass.pages) unlogged_pages_ += f.Count();
  AddUnfingerprinted(unfingerprinted, pass.pages);
  pass.rescan = true;
  return pass;
}

}  // namespace migration
