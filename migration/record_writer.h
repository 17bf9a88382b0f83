// SPDX-License-Identifier: MIT
// RecordWriter: the sending end of the migration stream (FORMAT.md). It
// encodes the preamble and records, turns per-region page sets into PAGES
// and ZERO_PAGES records read from guest memory, batches them into writev
// calls, keeps to the bandwidth cap and counts what it sent. It decides
// nothing about which pages to send: the Sender does.
//
// Trust boundary: none of its own; guest memory is read as opaque bytes
// (possibly changing under a live send, which the kFlagLive records and
// the dirty log cover, see FORMAT.md "torn pages").
#ifndef MIGRATION_RECORD_WRITER_H_
#define MIGRATION_RECORD_WRITER_H_

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "memory/guest_memory.h"
#include "migration/channel.h"
#include "migration/page_set.h"
#include "migration/wire_format.h"

namespace migration {

class RecordWriter {
 public:
  struct Options {
    // Read pages through the memfd into a buffer and send that copy,
    // rather than sending straight from the VMM's mapping (see SendPages).
    bool read_through_memfd = false;
    uint64_t bandwidth_bytes_per_s = 0;  // 0: no cap
  };
  // `on_batch` runs after every batch of page records went out (progress).
  RecordWriter(Channel& channel, const memory::GuestMemory& mem, Options options,
               std::function<void()> on_batch = nullptr)
      : channel_(channel), mem_(mem), options_(options), on_batch_(std::move(on_batch)) {}

  absl::Status WritePreamble();
  // One record with its payload (none for an empty span).
  absl::Status WriteRecord(RecordType type, uint64_t gpa, std::span<const uint8_t> payload);

  // Called for every page SendPages puts in a record: its region and page
  // index, the bytes the record carries and whether they were sent as zero.
  using PageObserver = std::function<void(size_t region, uint64_t page, const uint8_t* data, bool zero)>;
  // The pages of `sets` (one per region, as GuestMemory::Regions()) as
  // records of at most kPagesPerRecord pages, runs of zero pages as
  // ZERO_PAGES; flagged kFlagLive when the guest runs.
  absl::Status SendPages(const std::vector<PageSet>& sets, bool live, const PageObserver& observe = nullptr);
  // Starts a new bandwidth-cap window: the cap holds from here on.
  void RestartCap();

  // Pages sent with their data / as zero runs, since the writer was made.
  uint64_t pages_sent() const { return pages_sent_; }
  uint64_t zero_pages() const { return zero_pages_; }
  uint64_t bytes_written() const { return channel_.bytes_written(); }

  // One data record carries at most this many pages: big enough that
  // headers cost nothing, small enough that a torn live record costs
  // little and the receiver's buffer bound stays modest.
  static constexpr uint64_t kPagesPerRecord = 256;

 private:
  // Sleeps off whatever the writes since RestartCap are ahead of the cap.
  void KeepToCap();

  Channel& channel_;
  const memory::GuestMemory& mem_;
  const Options options_;
  const std::function<void()> on_batch_;
  // SendPages' copies, reused every round: filling fresh memory is costly
  // on a shadow-paging host, which must not be paid again in the paused
  // last round.
  std::vector<uint8_t> bounce_buffer_;
  absl::Time cap_start_ = absl::Now();
  uint64_t cap_bytes_ = 0;  // page data written since cap_start_
  uint64_t pages_sent_ = 0;
  uint64_t zero_pages_ = 0;
};

}  // namespace migration

#endif  // MIGRATION_RECORD_WRITER_H_
