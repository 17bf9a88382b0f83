// SPDX-License-Identifier: MIT
// WriteCheck: the PVM write check of a live migration (FORMAT.md, "Verified
// final pass"), for hosts whose dirty log may miss guest writes. It keeps a
// fingerprint of every page the destination holds (and of a sample of the
// hinted pages as the guest hinted them), re-reads pages after the rounds
// to find changes no tracking reported, and, while paused, says what must
// go again: the few pages the tracking keeps missing, or everything that
// changed. The Sender decides when to check; this class owns the
// fingerprints, the hinted-page sample, the bypassed pages and the
// live-miss bookkeeping.
//
// Trust boundary: page contents come from the guest and are only
// fingerprinted and compared; a guest can at worst make more pages go again.
#ifndef MIGRATION_WRITE_CHECK_H_
#define MIGRATION_WRITE_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"
#include "migration/page_set.h"

namespace migration {

class WriteCheck {
 public:
  explicit WriteCheck(const memory::GuestMemory& mem);

  // A page went out with these bytes (RecordWriter::PageObserver): the
  // destination holds them now.
  void RecordSent(size_t region, uint64_t page, const uint8_t* data, bool zero);

  // The guest's free page report, per region; the pages in it the guest
  // has not written since are free memory it still holds.
  void SetHinted(std::vector<PageSet> hinted);
  // Fingerprints of the sampled pages of `hinted` as the guest hinted them
  // (those in `populated` read, the rest zero), taken while the report
  // still comes in, on `threads` threads (one: the guest's vCPU is busy
  // reporting).
  void RecordHintBaseline(const std::vector<PageSet>& hinted, const std::vector<PageSet>& populated,
                          size_t threads);

  // Which hinted pages the guest still holds a check covers: none, the
  // sample (compared with their hint fingerprints), or all (the sample
  // compared, the rest, which have no fingerprint, sent).
  enum class HintedPages { kNone, kSample, kAll };
  // Before the pause: the sample, or all once any check caught a missed
  // write (then a missed write may be anywhere).
  HintedPages LastLiveCheckCoverage() const { return live_misses_ > 0 ? HintedPages::kAll : HintedPages::kSample; }

  // After a round's dirty sync, while the guest runs: changes the next sync
  // (`take_dirty`) explains are ordinary writes; the rest were missed by
  // the dirty tracking. Adds both to `next` (the coming round's pages).
  using TakeDirty = std::function<absl::StatusOr<std::vector<PageSet>>()>;
  absl::Status LiveCheck(std::vector<PageSet>& next, HintedPages hinted, uint32_t round, const TakeDirty& take_dirty);
  // Whether the last check caught writes on pages no check had caught
  // before, and checks are left: one more round and check then show whether
  // they keep coming from the same few pages.
  bool WantsAnotherCheck() const;

  // While paused, after the last dirty pages (`last`) went out: what to
  // send again. Nothing when no check caught a missed write; the pages the
  // tracking keeps missing when they are few and stable; otherwise every
  // populated page outside `last` that changed (a full re-scan).
  struct PausedPass {
    std::vector<PageSet> pages;
    bool rescan = false;   // every page was re-checked
    uint64_t bypassed = 0;  // the stable missed pages sent again
  };
  PausedPass Paused(const std::vector<PageSet>& last);

  // Pages changed without a dirty-log entry, found by the checks.
  uint64_t unlogged_pages() const { return unlogged_pages_; }
  // Time spent in the live checks.
  double check_ms() const { return check_ms_; }

  // PVM checks (FORMAT.md): at most this many live checks while missed
  // writes keep turning up on new pages, and at most this many pages missed
  // by the tracking that are simply sent again while paused instead of
  // re-checking every page.
  static constexpr uint32_t kMaxLiveChecks = 6;
  static constexpr uint64_t kMaxBypassedPages = 1024;

 private:
  // Populated pages outside `exclude` whose content differs from what the
  // destination holds (or, for hinted pages, from what was hinted; those
  // as `hinted` says). `unfingerprinted` gets per region the populated
  // hinted pages outside `exclude` the guest still holds outside the
  // sample: with kAll, what the check covers but cannot compare (empty
  // otherwise).
  std::vector<PageSet> ChangedPages(const std::vector<PageSet>& exclude, HintedPages hinted,
                                    std::vector<PageSet>& unfingerprinted);
  // ORs `unfingerprinted` into `sets`, to be sent; logged when there are any.
  static void AddUnfingerprinted(const std::vector<PageSet>& unfingerprinted, std::vector<PageSet>& sets);
  // True when the live checks found the tracking missing writes only on a
  // few pages that stay the same (the last check found no new one).
  bool BypassedPagesAreStable() const;

  const memory::GuestMemory& mem_;
  // Per region and page: the fingerprint of what the destination holds
  // (`known_` set) or of a hinted page as hinted.
  std::vector<std::vector<uint64_t>> page_crc_;
  std::vector<PageSet> known_;
  std::vector<PageSet> hinted_;  // per region, from the guest's report
  // Which page of every 64 of the hinted ones has a fingerprint and is read
  // by the checks: one per migration, from a seed no guest can know.
  // Fingerprinting every hinted page would make the hint wait and the
  // checks read all of the guest's free memory.
  const unsigned hint_sample_ = static_cast<unsigned>(std::random_device{}() % 64);
  // Per region, every page a write the tracking missed ever changed.
  std::vector<PageSet> bypassed_;
  uint64_t live_misses_ = 0;
  uint32_t live_checks_ = 0;
  uint64_t new_misses_in_last_check_ = 0;
  uint64_t unlogged_pages_ = 0;
  double check_ms_ = 0;
};

}  // namespace migration

#endif  // MIGRATION_WRITE_CHECK_H_
