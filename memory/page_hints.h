// SPDX-License-Identifier: MIT
// PageHints: what the guest tells the host about its free memory, as the
// migrator needs it: the pages it gave to the balloon (they read as zero)
// and free page hinting (a report of free pages the migrator need not send
// in its first round). It lives below devices/ so that the balloon can
// implement it and migration/ can take it without either knowing the other.
//
// Trust boundary: every range comes from the guest. Ballooned ranges lie in
// RAM (the balloon clipped them); hinted ranges are page aligned but not
// otherwise checked, so a user maps them onto RAM with
// GuestMemory::RegionPieces. A guest that lies only makes the migrator skip
// pages of its own, which then read as stale at the destination.
#ifndef MEMORY_PAGE_HINTS_H_
#define MEMORY_PAGE_HINTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "memory/gpa_range.h"

namespace memory {

class PageHints {
 public:
  virtual ~PageHints() = default;

  // Pages the guest gave to the balloon and has not taken back.
  virtual std::vector<GpaRange> BalloonedRanges() const = 0;

  // Free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT): false unless the
  // driver negotiated it and is running.
  virtual bool CanHint() const = 0;
  // Asks the guest for a report under a command id it has not seen yet
  // (the implementation picks it: the guest ignores the id of its previous
  // report, which may come from another host).
  virtual absl::Status StartHinting() = 0;
  // Increases each time the guest finishes a report.
  virtual uint64_t HintReportsCompleted() const = 0;
  // Asks the guest to stop reporting; hinted pages stay the guest's free
  // memory, which it does not reuse until DoneHinting.
  virtual absl::Status StopHinting() = 0;
  // Lets the guest reuse the pages it hinted.
  virtual absl::Status DoneHinting() = 0;
  // Ranges hinted under the current command since the last call.
  virtual std::vector<GpaRange> TakeHintedRanges() = 0;
};

}  // namespace memory

#endif  // MEMORY_PAGE_HINTS_H_
