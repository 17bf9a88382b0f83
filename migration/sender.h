// SPDX-License-Identifier: MIT
// Sender: the source half of a migration (live pre-copy) or of a snapshot.
//
// Live, as Migrate reads: the handshake (preamble, shape, dirty logging on)
// -> pre-copy rounds: free page hinting (report, STOP), round 1 (every page
// except never-populated, ballooned and hinted ones; zero pages as zero
// runs), then rounds of what was dirtied until PrecopyPolicy says stop ->
// stop-and-copy: pause, last dirty pages, device and vCPU state, end
// marker -> the explicit commit: wait for the destination's ACK, send
// COMMIT, wait for its COMMITTED. Any failure before END is out, and a
// definite ERROR from the destination before COMMIT, resume the guest
// exactly as it was (hinting DONE, logging off); anything else after END
// (a timeout, a lost connection, no COMMITTED) leaves it paused in
// unknown-outcome for an operator (FORMAT.md, "Failures"). A CancelSwitch
// stops it before END.
// On hosts whose dirty log may miss writes, a WriteCheck re-checks pages
// after the rounds and while paused.
//
// Snapshot: pause, every populated non-ballooned page, state, end, resume.
//
// The pieces: RecordWriter (encoding, sending, bandwidth cap),
// PrecopyPolicy (when to stop the rounds), WriteCheck (the PVM check),
// guest_pages.h (page sets from guest memory).
#ifndef MIGRATION_SENDER_H_
#define MIGRATION_SENDER_H_

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "memory/page_hints.h"
#include "migration/cancel_switch.h"
#include "migration/channel.h"
#include "migration/page_set.h"
#include "migration/precopy_policy.h"
#include "migration/record_writer.h"
#include "migration/source.h"
#include "migration/stats.h"
#include "migration/wire_format.h"
#include "migration/write_check.h"

namespace migration {

class Sender {
 public:
  using ProgressCallback = std::function<void(const MigrationStats&)>;
  // `cancel` (may be null): how an operator stops it before END.
  Sender(MigrationSource& source, Channel& channel, MigrationOptions options, ProgressCallback on_progress,
         CancelSwitch* cancel = nullptr);

  // On success the guest is still paused: the destination owns it now. On
  // an error the guest runs again, unless outcome_unknown().
  absl::StatusOr<MigrationStats> Migrate();
  // After Migrate failed: the destination may or may not run the guest, so
  // it stays paused here (phase unknown-outcome) until an operator decides.
  bool outcome_unknown() const { return stats_.phase == kPhaseUnknownOutcome; }
  // The figures as they stand (after Migrate: how it ended, error included).
  const MigrationStats& stats() const { return stats_; }
  // Writes the whole VM to a file channel; the guest runs again afterwards.
  absl::StatusOr<MigrationStats> Snapshot();

 private:
  // Preamble and SHAPE.
  absl::Status SendHeaderAndShape();
  // The live rounds: round 1, then the rounds of dirtied pages; returns the
  // pages dirty when the policy stopped them.
  absl::StatusOr<std::vector<PageSet>> PrecopyRounds();
  // Sends one live round's pages and its ROUND_END; measures the link.
  absl::Status SendLiveRound(const std::vector<PageSet>& sets);
  // Whether the round just sent was the last live one, with `dirty` left
  // (asks the policy; updates the figures).
  bool LastLiveRound(const std::vector<PageSet>& dirty);
  // Pause, the last dirty pages (`dirty` plus the final sync), the write
  // check's paused pass, state, end; then the commit.
  absl::Status StopAndCopy(const std::vector<PageSet>& dirty);
  // MEMORY_END and STATE.
  absl::Status SendMemoryEndAndState();
  // After END: ACK -> COMMIT -> COMMITTED, each wait bounded.
  absl::Status Commit();
  // Sets the socket's send and receive timeouts to the peer timeout, so a
  // write into a destination that stopped reading fails instead of
  // blocking for good.
  void BoundSocketWaits();

  // Asks the guest for free pages; returns them as per-region sets.
  // `populated`: the pages that have storage. Hinted pages outside it get
  // the zero fingerprint, which is what they read as (a page the guest
  // fills later is in the dirty log, or differs at the next check and is
  // sent); a long run of them ends the wait (see hint_unpopulated_run_bytes).
  std::vector<PageSet> CollectHints(const std::vector<PageSet>& populated);
  // Round 1 per region: populated pages minus ballooned (minus hinted).
  std::vector<PageSet> RoundOneSets(bool use_hints);
  absl::StatusOr<std::vector<PageSet>> TakeDirty();
  // SendPages, feeding the write check when there is one.
  absl::Status SendPages(const std::vector<PageSet>& sets, bool live);

  // The destination's next answer: ROUND_SYNC, ACK or COMMITTED (ERROR
  // becomes the error, with its text, and sets refused_).
  absl::StatusOr<RecordHeader> ReadAnswer(const char* waiting_for);
  // Until the destination has processed ROUND_END `round` (sockets only).
  absl::Status WaitForRoundSync(uint64_t round);
  // Until a record of `type`, skipping round syncs.
  absl::Status WaitFor(RecordType type, const char* what);
  void Report(bool force);
  // Marks the migration failed (or cancelled) and undoes what it changed on
  // the source; the guest runs again unless the outcome is unknown (END out
  // and no definite ERROR), when it stays paused.
  absl::Status Fail(absl::Status status);
  bool Cancelled() const { return cancel_ != nullptr && cancel_->cancelled(); }

  MigrationSource& source_;
  Channel& channel_;
  const MigrationOptions options_;
  const ProgressCallback on_progress_;
  CancelSwitch* const cancel_;  // null: cannot be cancelled
  memory::PageHints* const hints_;  // null: no balloon
  RecordWriter writer_;
  PrecopyPolicy policy_;
  std::optional<WriteCheck> check_;  // verify_final_pass only
  MigrationStats stats_;
  absl::Time start_ = absl::Now();
  absl::Time last_report_ = absl::InfinitePast();
  absl::Time pause_time_;
  absl::Time commit_sent_time_;
  uint64_t round_set_bytes_ = 0;  // what the last live round began with
  // While a live round is being sent: the pages written before it began,
  // so Report can count down what is left of the round's set.
  std::optional<uint64_t> live_round_start_pages_;
  bool hinting_started_ = false;
  bool logging_ = false;
  bool paused_ = false;
  // How far the commit got: END written (from here the guest is resumed
  // only on a definite ERROR), COMMIT attempted (from here never), and
  // whether the destination refused with ERROR.
  bool end_sent_ = false;
  bool commit_attempted_ = false;
  bool refused_ = false;
  std::vector<PageSet> hinted_;  // per region, from the guest's report
};

}  // namespace migration

#endif  // MIGRATION_SENDER_H_
