// SPDX-License-Identifier: MIT
// devices::Balloon: the virtio memory balloon (device id 5; virtio 1.2,
// 5.5). The guest gives pages back on the inflate queue and takes them back
// on the deflate queue; free page reporting hands over free blocks that the
// guest may reuse as soon as the buffer returns; free page hinting tells the
// migrator which pages it need not send; the stats queue reports the
// guest's memory figures.
//
// Trust boundary: every PFN, range and stat comes from the guest. Buffers go
// through virtio::Queue's validation; PFNs are clipped to RAM (others are
// counted and ignored); memory goes back to the host only through
// GuestMemory::Discard, one call per compacted range. Guest mistakes are
// logged (rate-limited) and skipped; a corrupt ring or a failed host
// discard is returned to the transport, which then asks for a reset.
//
// Threading: one mutex guards all state. vCPU threads enter through the
// VirtioDevice methods (transport lock held, or not, for ProcessQueue),
// the VMM's control thread through the public API. The config-change
// callback is called with the balloon's lock released.
#ifndef DEVICES_BALLOON_BALLOON_H_
#define DEVICES_BALLOON_BALLOON_H_

#include <linux/virtio_balloon.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "devices/balloon/balloon_stats.h"
#include "devices/balloon/hugepage_discard_tracker.h"
#include "devices/balloon/page_bitmap.h"
#include "devices/balloon/pfn_ranges.h"
#include "memory/guest_memory.h"
#include "memory/page_hints.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace devices {

struct BalloonOptions {
  bool must_tell_host = true;
  bool stats = true;
  bool deflate_on_oom = true;
  bool free_page_hint = true;
  bool page_poison = true;
  bool reporting = true;
  // Offer the range format (VIRTIO_BALLOON_F_CHUNKS, chunk_format.h).
  bool chunks = true;
};

class Balloon : public virtio::VirtioDevice, public memory::PageHints {
 public:
  // Queue size offered for every queue. Free page reporting needs at least
  // PAGE_REPORTING_CAPACITY (32) entries; inflate/deflate batch 256 PFNs
  // per buffer but use one buffer at a time.
  static constexpr uint16_t kQueueSize = 256;
  // The Linux driver's VIRTIO_BALLOON_ARRAY_PFNS_MAX.
  static constexpr uint32_t kMaxPfnsPerBuffer = 256;
  // Most PFNs held at once while serving one inflate or deflate
  // notification (32 KiB, naming 32 MiB of guest pages): a notification's
  // chains are compacted together up to this many, then applied, however
  // many descriptors the guest chained.
  static constexpr uint32_t kMaxBatchPfns = 32 * kMaxPfnsPerBuffer;

  enum class QueueRole { kInflate, kDeflate, kStats, kFreePageHint, kReporting };

  struct Counters {
    uint64_t requests = 0;           // inflate + deflate chains
    uint64_t pages_inflated = 0;     // in-RAM pages named by inflate buffers
    uint64_t pages_deflated = 0;
    uint64_t ranges = 0;             // compacted in-RAM inflate ranges
    uint64_t discard_calls = 0;      // GuestMemory::Discard calls (inflate + reporting)
    uint64_t bytes_returned = 0;     // bytes successfully discarded
    uint64_t pfns_out_of_range = 0;  // distinct PFNs outside RAM, ignored
    uint64_t reported_ranges = 0;    // free page reporting ranges
    uint64_t hinted_ranges = 0;      // free page hint blocks accepted
    // Host-side cost of inflate/deflate notifications (notify seen -> used
    // buffers returned and interrupt raised): CPU time of the handling thread.
    uint64_t service_cpu_ns = 0;
  };

  // `mem` gives the RAM layout for the ballooned-page bitmap; the memory
  // used for I/O comes with Activate().
  explicit Balloon(const memory::GuestMemory& mem, BalloonOptions options = {});

  // virtio::VirtioDevice
  uint32_t device_type() const override;
  uint64_t device_features() const override;
  std::vector<uint16_t> queue_max_sizes() const override;
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void WriteConfig(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Activate(virtio::ActivateArgs args) override;
  absl::Status ProcessQueue(uint16_t index) override;
  void Reset() override;
  void SetConfigChangeCallback(virtio::InterruptCallback callback) override;

  // The role of each queue index under `negotiated` features: inflate,
  // deflate, then stats, free page hint, reporting, each only if negotiated.
  static std::vector<QueueRole> QueueRoles(uint64_t negotiated);

  // --- API for the VMM (control thread) ---
  // Sets the number of 4 KiB pages the guest should give up and raises a
  // config-change interrupt.
  void SetTargetPages(uint32_t pages);
  uint32_t target_pages() const;
  // Pages the guest says are in the balloon (config `actual`).
  uint32_t actual_pages() const;
  Counters counters() const;
  // Wall-clock service time of each inflate/deflate notification (the last
  // kMaxServiceSamples), for the median/p99 in bench/balloon and the API.
  struct ServiceTimes {
    uint64_t samples = 0;
    uint64_t p50_ns = 0;
    uint64_t p99_ns = 0;
  };
  ServiceTimes service_times() const;
  static constexpr size_t kMaxServiceSamples = 1 << 16;
  // Latest stats reported by the guest.
  BalloonStats Stats() const;
  // Returns the held stats buffer so the guest sends fresh figures.
  // FailedPrecondition when the stats queue is not active or the guest has
  // not offered a buffer yet.
  absl::Status RequestStats();

  // The most PFNs held at once by any inflate or deflate notification so
  // far (at most kMaxBatchPfns); not part of the saved state.
  uint64_t peak_batch_pfns() const;
  // The range ("chunk") format, when negotiated: entries applied and
  // entries (or whole buffers) refused as invalid. Not saved.
  struct ChunkCounters {
    uint64_t entries = 0;
    uint64_t refused = 0;
  };
  ChunkCounters chunk_counters() const;
  // Ballooned pages not given back yet because their huge page is not
  // wholly ballooned (hugepage_discard_tracker.h); 0 with 4 KiB backing.
  uint64_t pages_waiting_for_huge_page() const;

  // Ballooned pages (inflated and not deflated since).
  uint64_t ballooned_pages() const;
  bool IsBallooned(uint64_t pfn) const;

  // memory::PageHints, for the migrator. Hinting is bookkeeping only:
  // hinted pages are never discarded, because the guest owns them again as
  // soon as it sees DONE. CanHint: the driver accepted FREE_PAGE_HINT and
  // the device is active (it learns both at activation).
  std::vector<memory::GpaRange> BalloonedRanges() const override;
  bool CanHint() const override;
  // Under NextHintCommandId().
  absl::Status StartHinting() override;
  absl::Status StopHinting() override;
  absl::Status DoneHinting() override;
  std::vector<memory::GpaRange> TakeHintedRanges() override;
  // Free page reports the guest has finished (STOP after the current id).
  uint64_t HintReportsCompleted() const override;

  // Asks the guest to report free pages under `cmd_id` (>= 2, distinct
  // from the previous one).
  absl::Status StartHinting(uint32_t cmd_id);
  // An id for the next StartHinting: one after the last id started, which
  // is part of the saved state, so a guest that moved here and reported
  // under id N on its last host is asked under N+1 (the driver ignores a
  // command equal to its last active one). Ids count up from 0x80000000
  // and skip the reserved STOP (0) and DONE (1) when they wrap.
  uint32_t NextHintCommandId() const;
  // True between the guest echoing the current cmd_id and its STOP marker.
  bool hinting_in_progress() const;

  // state::Migratable (via VirtioDevice): config, negotiated features,
  // ring indices of the active queues, the ballooned-page bitmap, counters.
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  absl::Status HandlePfnQueue(virtio::Queue& queue, bool inflate)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The inflate/deflate queues under VIRTIO_BALLOON_F_CHUNKS
  // (balloon_chunks.cc): one buffer held at a time, each valid entry
  // applied (and discarded) on its own, invalid ones logged and skipped.
  absl::Status HandleChunkQueue(virtio::Queue& queue, bool inflate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyChunk(uint64_t entry, bool inflate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status HandleStats(virtio::Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status HandleReporting(virtio::Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status HandleFreePageHint(virtio::Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadPfns(const virtio::Descriptor& desc, std::vector<uint32_t>& pfns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Compacts one batch of PFNs and balloons or
  // deflates the ranges; host errors come back after the whole batch.
  absl::Status ApplyPfns(std::span<const uint32_t> pfns, bool inflate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether discarding would break the guest's page poisoning.
  bool PoisonForbidsDiscard() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Discards one validated range, counting it; host errors come back.
  absl::Status DiscardRange(memory::Gpa gpa, uint64_t length) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SignalIfNeeded(virtio::Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct ServiceClock {
    ServiceClock();
    uint64_t wall_ns;
    uint64_t cpu_ns;
  };
  void RecordService(const ServiceClock& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetHintCommand(uint32_t cmd_id);

  const BalloonOptions options_;
  // Which ballooned ranges may go back to the host now (whole huge pages
  // only on a huge page backend). Stateless beyond the bitmap.
  const HugePageDiscardTracker discard_tracker_;

  mutable absl::Mutex mu_;
  virtio_balloon_config config_ ABSL_GUARDED_BY(mu_) = {};
  virtio::InterruptCallback config_change_ ABSL_GUARDED_BY(mu_);

  // Set by Activate, cleared by Reset.
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  memory::GuestMemory* mem_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t features_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<virtio::Queue> queues_ ABSL_GUARDED_BY(mu_);
  std::vector<QueueRole> roles_ ABSL_GUARDED_BY(mu_);
  virtio::InterruptCallback signal_used_ ABSL_GUARDED_BY(mu_);
  std::optional<uint16_t> stats_queue_ ABSL_GUARDED_BY(mu_);
  std::optional<uint16_t> pending_stats_head_ ABSL_GUARDED_BY(mu_);

  Counters counters_ ABSL_GUARDED_BY(mu_);
  uint64_t peak_batch_pfns_ ABSL_GUARDED_BY(mu_) = 0;
  ChunkCounters chunk_counters_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> service_ns_ ABSL_GUARDED_BY(mu_);  // ring of samples
  size_t service_next_ ABSL_GUARDED_BY(mu_) = 0;
  BalloonStats stats_ ABSL_GUARDED_BY(mu_);
  PageBitmap ballooned_ ABSL_GUARDED_BY(mu_);
  bool hint_receiving_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t hint_reports_completed_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t last_hint_cmd_id_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none started yet
  std::vector<memory::GpaRange> hinted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace devices

#endif  // DEVICES_BALLOON_BALLOON_H_
