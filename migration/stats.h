// MigrationOptions and the figures a migration reports while it runs and at
// its end (GET /api/v1/migrate, `vmm ctl migrate --json`, bench/migrate).
#ifndef MIGRATION_STATS_H_
#define MIGRATION_STATS_H_

#include <cstdint>
#include <string>

namespace migration {

struct MigrationOptions {
  double downtime_target_ms = 30;
  uint64_t bandwidth_bytes_per_s = 0;  // 0: no cap
  uint32_t max_rounds = 30;
  bool free_page_hinting = true;
  // How long to wait for the guest's free page report before going on
  // without the rest of it.
  double hint_timeout_ms = 10000;
  // Stop waiting for the report once this much hinted memory in a row (in
  // the order the guest sent it) had never been populated: the report has
  // got past the memory that would otherwise be sent (see CollectHints).
  // 0: wait for the whole report.
  uint64_t hint_unpopulated_run_bytes = 128ull << 20;
  // For hosts whose dirty log may miss guest writes (PVM: see FORMAT.md,
  // "Verified final pass"): keep a fingerprint of every page the
  // destination holds, re-check them after every round while the guest
  // runs and, if a check ever caught a missed write, once more while paused.
  bool verify_final_pass = false;
  // Read pages through the memfd into a buffer before sending them, rather
  // than sending straight from the VMM's mapping: for hosts where the VMM's
  // first touch of a guest page is expensive (PVM's hosts run on shadow
  // page tables themselves, so a fault costs far more than a pread).
  bool read_through_memfd = false;
};

struct MigrationStats {
  std::string phase = "setup";  // setup, hinting, precopy, stop-and-copy, completed, failed
  uint32_t round = 0;
  uint64_t guest_ram_bytes = 0;
  uint64_t bytes_sent = 0;        // everything written to the stream
  uint64_t pages_sent = 0;        // pages sent with their data (every round)
  uint64_t zero_pages = 0;        // present but all zero: sent as zero runs
  uint64_t skipped_unpopulated = 0;  // never touched: not sent (round 1)
  uint64_t skipped_ballooned = 0;    // in the balloon: not sent (round 1)
  uint64_t skipped_hinted = 0;       // reported free by the guest: not sent (round 1)
  uint64_t hinted_pages = 0;         // all pages the guest hinted
  uint64_t unlogged_pages = 0;       // changed without a dirty-log entry, found by the verified pass
  bool paused_rescan = false;        // the verified pass re-checked every page while paused
  uint64_t bypassed_pages = 0;       // pages the tracking misses, sent again while paused instead
  uint64_t final_pages = 0;          // dirty pages sent while the guest was paused
  uint64_t remaining_bytes = 0;   // dirty at the last sync
  double rate_bytes_per_s = 0;    // of the last full round
  double expected_downtime_ms = 0;
  double total_ms = 0;
  double downtime_ms = 0;         // source paused -> destination acknowledged
  // Where the rest of the total time went (ms): waiting for the guest's
  // free page report, and the PVM checks of the tracking (live).
  double hint_wait_ms = 0;
  // How the wait for the guest's report ended: "complete" (the guest sent
  // STOP), "past-populated" (the report had moved on to never-populated
  // memory, which is not sent anyway), "timed-out", or "" (no hinting).
  std::string hint_report;
  double check_ms = 0;
  // Where the downtime went, in order (ms): stopping the vCPUs, the last
  // dirty sync, sending the last pages, the paused re-scan (PVM, when
  // needed), saving and sending the state, and waiting for the destination
  // to load it, start its vCPUs and acknowledge.
  struct DowntimeParts {
    double pause = 0, sync = 0, last_pages = 0, rescan = 0, state = 0, ack = 0;
  } downtime_parts;
  std::string error;
};

}  // namespace migration

#endif  // MIGRATION_STATS_H_
