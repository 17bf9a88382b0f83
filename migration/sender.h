// Sender: the source half of a migration (live pre-copy) or of a snapshot.
//
// Live: dirty logging on -> free page hinting (report, STOP) -> round 1 (every page except
// never-populated, ballooned and hinted ones; zero pages as zero runs) ->
// rounds of what was dirtied -> once the rest fits the downtime target (or
// max rounds): pause, last dirty pages, device and vCPU state, end marker,
// wait for the destination's acknowledgement. Any failure before the ack
// resumes the guest exactly as it was (hinting DONE, logging off).
//
// Snapshot: pause, every populated non-ballooned page, state, end, resume.
#ifndef MIGRATION_SENDER_H_
#define MIGRATION_SENDER_H_

#include <functional>
#include <optional>
#include <utility>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migration/channel.h"
#include "migration/page_set.h"
#include "migration/source.h"
#include "migration/stats.h"
#include "migration/wire_format.h"

namespace migration {

class Sender {
 public:
  using ProgressCallback = std::function<void(const MigrationStats&)>;
  Sender(MigrationSource& source, Channel& channel, MigrationOptions options, ProgressCallback on_progress)
      : source_(source), channel_(channel), options_(options), on_progress_(std::move(on_progress)) {}

  // On success the guest is still paused: the destination owns it now.
  absl::StatusOr<MigrationStats> Migrate();
  // Writes the whole VM to a file channel; the guest runs again afterwards.
  absl::StatusOr<MigrationStats> Snapshot();

 private:
  absl::Status SendHeaderAndShape();
  // Asks the guest for free pages; returns them as per-region sets.
  // `populated`: the pages that have storage. Hinted pages outside it get
  // the zero fingerprint, which is what they read as (a page the guest
  // fills later is in the dirty log, or differs at the next check and is
  // sent); a long run of them ends the wait (see hint_unpopulated_run_bytes).
  std::vector<PageSet> CollectHints(const std::vector<PageSet>& populated);
  // The RAM region holding `gpa` and the page of it there; none outside RAM.
  std::optional<std::pair<size_t, uint64_t>> RegionPage(memory::Gpa gpa) const;
  // Whether any page of `range` is in `populated` (per-region sets).
  bool HasStorage(const GpaRange& range, const std::vector<PageSet>& populated) const;
  // Guest-physical ranges (hinted, ballooned) as per-region page sets.
  std::vector<PageSet> RangeSets(const std::vector<GpaRange>& ranges) const;
  // Round 1 per region: populated pages minus ballooned (minus hinted).
  std::vector<PageSet> RoundOneSets(bool use_hints);
  absl::StatusOr<std::vector<PageSet>> TakeDirty();
  absl::Status SendSets(const std::vector<PageSet>& sets, bool live);
  // verify_final_pass: fingerprints of the sampled pages (hint_sample_) of
  // `hinted` as the guest hinted them (those in `populated` read, the rest
  // zero), taken while the report still comes in, on `threads` threads
  // (one: the guest's vCPU is busy reporting).
  void RecordHintBaseline(const std::vector<PageSet>& hinted, const std::vector<PageSet>& populated,
                          size_t threads);
  // The pages of region `region` that have storage (never-touched ones do not).
  PageSet PopulatedSet(size_t region) const;
  // Calls visit(thread, page, bytes) for every page of `pages` in region
  // `region`, read through the memfd on up to ScanThreads() threads; false
  // if some chunk could not be read (its pages were not visited).
  bool ScanPages(size_t region, const PageSet& pages,
                 const std::function<void(size_t, uint64_t, const uint8_t*)>& visit,
                 size_t threads = ScanThreads());
  static size_t ScanThreads();
  // Which hinted pages the guest has not written since (free memory it
  // still holds) a check covers: none, the sample (compared with their
  // hint fingerprints), or all (the sample compared, the rest, which have
  // no fingerprint, sent).
  enum class HintedPages { kNone, kSample, kAll };
  // Populated pages outside `exclude` whose content differs from what the
  // destination holds (or, for hinted pages, from what was hinted; those
  // as `hinted` says). `unfingerprinted`, if given, gets per region the
  // populated hinted pages outside `exclude` the guest still holds (not
  // written since it hinted them, as far as the tracking saw) outside the
  // sample: with kAll, what the check covers but cannot compare (empty
  // otherwise).
  std::vector<PageSet> ChangedPages(const std::vector<PageSet>& exclude, HintedPages hinted,
                                    std::vector<PageSet>* unfingerprinted);
  // ORs `unfingerprinted` (from ChangedPages) into `sets`, to be sent;
  // logged when there are any.
  void AddUnfingerprinted(const std::vector<PageSet>& unfingerprinted, std::vector<PageSet>& sets);
  // After a round's dirty sync, while the guest runs: changes the next sync
  // explains are ordinary writes; the rest were missed by the dirty
  // tracking. Adds both to `next` (the coming round's pages).
  absl::Status LiveCheck(std::vector<PageSet>& next, HintedPages hinted);
  absl::Status SendRecord(RecordType type, uint64_t gpa, std::span<const uint8_t> payload);
  // The destination's next answer: ROUND_SYNC or ACK (ERROR becomes the
  // error, with its text).
  absl::StatusOr<RecordHeader> ReadAnswer(const char* waiting_for);
  // Until the destination has processed ROUND_END `round` (sockets only).
  absl::Status WaitForRoundSync(uint64_t round);
  // Until ACK, skipping round syncs.
  absl::Status WaitForAck();
  void Report(bool force);

  MigrationSource& source_;
  Channel& channel_;
  const MigrationOptions options_;
  const ProgressCallback on_progress_;
  MigrationStats stats_;
  absl::Time start_ = absl::Now();
  absl::Time last_report_ = absl::InfinitePast();
  // Bandwidth cap bookkeeping: bytes written since `cap_start_`.
  absl::Time cap_start_ = absl::Now();
  uint64_t cap_bytes_ = 0;
  bool hinting_started_ = false;
  std::vector<PageSet> hinted_;  // per region, from the guest's report
  // verify_final_pass bookkeeping, per region and page: the CRC32C of what
  // the destination holds (`known_` set) or of a hinted page as hinted.
  std::vector<std::vector<uint64_t>> page_crc_;  // PageFingerprint
  std::vector<uint8_t> bounce_buffer_;           // SendSets' copies, reused every round
  std::vector<PageSet> known_;
  // True when the live checks found the tracking missing writes only on a
  // few pages that stay the same (the last check found no new one).
  bool BypassedPagesAreStable() const;

  // Writes the live checks caught that the dirty tracking missed; per
  // region, every page such a write ever changed.
  uint64_t live_misses_ = 0;
  uint32_t live_checks_ = 0;
  uint64_t new_misses_in_last_check_ = 0;
  // Which page of every 64 of the hinted ones has a fingerprint and is
  // read by the checks: one per migration, from a seed no guest can know.
  // Fingerprinting every hinted page cost ~135 ms a GiB of populated
  // hinted memory here, most of it in the hint wait.
  const unsigned hint_sample_ = static_cast<unsigned>(std::random_device{}() % 64);
  std::vector<PageSet> bypassed_;
};

}  // namespace migration

#endif  // MIGRATION_SENDER_H_
