// SPDX-License-Identifier: MIT
// MigrationOptions and the figures a migration reports while it runs and at
// its end (GET /api/v1/migrate, `vmm ctl migrate --json`, bench/migrate).
#ifndef MIGRATION_STATS_H_
#define MIGRATION_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

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
  // The longest the source waits on the destination for any one step: a
  // write that makes no progress (a destination that stopped reading), a
  // ROUND_SYNC, the ACK after END, the COMMITTED after COMMIT. A stalled
  // peer is found within this, not within TCP's minutes; what the source
  // does then depends on how far it got (FORMAT.md, "Failures").
  double peer_timeout_ms = 10000;
};

// MigrationStats::phase: the running phases, then how it ended.
//   setup, hinting, precopy, stop-and-copy (paused, sending the last state),
//   awaiting-ack (END sent), committing (COMMIT sent, awaiting COMMITTED);
//   completed (the guest runs at the destination), failed or cancelled (it
//   runs here again), unknown-outcome (paused here until an operator
//   resumes or abandons it), then resumed or abandoned by that operator.
inline constexpr char kPhaseAwaitingAck[] = "awaiting-ack";
inline constexpr char kPhaseCommitting[] = "committing";
inline constexpr char kPhaseCompleted[] = "completed";
inline constexpr char kPhaseFailed[] = "failed";
inline constexpr char kPhaseCancelled[] = "cancelled";
inline constexpr char kPhaseUnknownOutcome[] = "unknown-outcome";
inline constexpr char kPhaseResumed[] = "resumed";
inline constexpr char kPhaseAbandoned[] = "abandoned";
// Whether a migration in `phase` has ended (nothing more will change
// unless an operator acts on an unknown outcome).
inline bool PhaseIsFinal(const std::string& phase) {
  return phase == kPhaseCompleted || phase == kPhaseFailed || phase == kPhaseCancelled ||
         phase == kPhaseUnknownOutcome || phase == kPhaseResumed || phase == kPhaseAbandoned;
}

struct MigrationStats {
  std::string phase = "setup";  // see kPhase* above
  // The channel's record layer: "none" (tcp:, unix:), "openssl" (TLS
  // records made by OpenSSL), "ktls" (TLS records made by the kernel).
  std::string encryption = "none";
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
  uint64_t remaining_bytes = 0;   // of the last sync's dirty set, still to send (counted down in a round)
  double rate_bytes_per_s = 0;    // of the last full round
  double expected_downtime_ms = 0;
  double total_ms = 0;
  double downtime_ms = 0;         // source paused -> COMMIT sent (the destination starts on it)
  // Where the rest of the total time went (ms): waiting for the guest's
  // free page report, and the PVM checks of the tracking (live).
  double hint_wait_ms = 0;
  // How the wait for the guest's report ended: "complete" (the guest sent
  // STOP), "past-populated" (the report had moved on to never-populated
  // memory, which is not sent anyway), "timed-out", or "" (no hinting).
  std::string hint_report;
  double check_ms = 0;
  // A snapshot's page work (Sender::Snapshot only; 0 otherwise): the bytes
  // of guest memory it goes through (every populated page outside the
  // balloon, known before the first is written) and how many of them are
  // out, with their data or as zero runs. done never exceeds total and
  // equals it once the pages are written: a progress bar's two ends.
  uint64_t snapshot_total_bytes = 0;
  uint64_t snapshot_done_bytes = 0;
  // Where the downtime went, in order (ms): stopping the vCPUs, the last
  // dirty sync, sending the last pages, the paused re-scan (PVM, when
  // needed), saving and sending the state, and waiting for the destination
  // to load it and acknowledge, then sending COMMIT (on which its vCPUs
  // start).
  struct DowntimeParts {
    double pause = 0, sync = 0, last_pages = 0, rescan = 0, state = 0, ack = 0;
  } downtime_parts;
  // Each round as it ended, the last one sent while paused: what it set
  // out to send (the dirty set at its start), what it wrote to the stream
  // and how long that took. How a migration converged, for a chart
  // (bench/migrate.py --plot) or a look at why it did not; at most
  // max_rounds + 1 entries.
  struct Round {
    uint32_t round = 0;
    uint64_t dirty_bytes = 0;
    uint64_t bytes_sent = 0;
    double ms = 0;
    bool paused = false;
  };
  std::vector<Round> round_history;
  std::string error;
};

}  // namespace migration

#endif  // MIGRATION_STATS_H_
