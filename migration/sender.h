// Sender: the source half of a migration (live pre-copy) or of a snapshot.
//
// Live, as Migrate reads: the handshake (preamble, shape, dirty logging on)
// -> pre-copy rounds: free page hinting (report, STOP), round 1 (every page
// except never-populated, ballooned and hinted ones; zero pages as zero
// runs), then rounds of what was dirtied until PrecopyPolicy says stop ->
// stop-and-copy: pause, last dirty pages, device and vCPU state, end
// marker, wait for the destination's acknowledgement. Any failure before
// the ack resumes the guest exactly as it was (hinting DONE, logging off).
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
  Sender(MigrationSource& source, Channel& channel, MigrationOptions options, ProgressCallback on_progress);

  // On success the guest is still paused: the destination owns it now.
  absl::StatusOr<MigrationStats> Migrate();
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
  // check's paused pass, state, end; until the destination acknowledges.
  absl::Status StopAndCopy(const std::vector<PageSet>& dirty);
  // MEMORY_END, STATE and END.
  absl::Status SendStateAndEnd();

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

  // The destination's next answer: ROUND_SYNC or ACK (ERROR becomes the
  // error, with its text).
  absl::StatusOr<RecordHeader> ReadAnswer(const char* waiting_for);
  // Until the destination has processed ROUND_END `round` (sockets only).
  absl::Status WaitForRoundSync(uint64_t round);
  // Until ACK, skipping round syncs.
  absl::Status WaitForAck();
  void Report(bool force);
  // Marks the migration failed and undoes what it changed on the source.
  absl::Status Fail(absl::Status status);

  MigrationSource& source_;
  Channel& channel_;
  const MigrationOptions options_;
  const ProgressCallback on_progress_;
  memory::PageHints* const hints_;  // null: no balloon
  RecordWriter writer_;
  PrecopyPolicy policy_;
  std::optional<WriteCheck> check_;  // verify_final_pass only
  MigrationStats stats_;
  absl::Time start_ = absl::Now();
  absl::Time last_report_ = absl::InfinitePast();
  absl::Time pause_time_;
  uint64_t round_set_bytes_ = 0;  // what the last live round began with
  bool hinting_started_ = false;
  bool logging_ = false;
  bool paused_ = false;
  std::vector<PageSet> hinted_;  // per region, from the guest's report
};

}  // namespace migration

#endif  // MIGRATION_SENDER_H_
