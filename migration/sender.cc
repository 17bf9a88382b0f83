// SPDX-License-Identifier: MIT
#include "migration/sender.h"

#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/crc32c.h"
#include "migration/guest_pages.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;

uint64_t CountPages(const std::vector<PageSet>& sets) {
  uint64_t pages = 0;
  for (const PageSet& s : sets) pages += s.Count();
  return pages;
}

RecordWriter::Options WriterOptions(const MigrationOptions& options) {
  // Pages go straight from guest memory, unless the dirty log cannot be
  // trusted to report a page changed under the send (see FORMAT.md): then
  // from a copy read through the memfd, which is exactly what the record
  // carries and what the write check's fingerprints describe. Hosts where
  // the VMM's first touch of a guest page is expensive ask for the copy too.
  return {.read_through_memfd = options.verify_final_pass || options.read_through_memfd,
          .bandwidth_bytes_per_s = options.bandwidth_bytes_per_s};
}

}  // namespace

Sender::Sender(MigrationSource& source, Channel& channel, MigrationOptions options, ProgressCallback on_progress,
               CancelSwitch* cancel)
    : source_(source),
      channel_(channel),
      options_(options),
      on_progress_(std::move(on_progress)),
      cancel_(cancel),
      hints_(source.page_hints()),
      writer_(channel, source.memory(), WriterOptions(options), [this] { Report(false); }),
      policy_(options.downtime_target_ms, options.max_rounds) {}

void Sender::Report(bool force) {
  absl::Time now = absl::Now();
  if (!force && now - last_report_ < absl::Milliseconds(100)) return;
  last_report_ = now;
  stats_.bytes_sent = channel_.bytes_written();
  stats_.encryption = channel_.Encryption();
  stats_.pages_sent = writer_.pages_sent();
  stats_.zero_pages = writer_.zero_pages();
  if (check_) {
    stats_.unlogged_pages = check_->unlogged_pages();
    stats_.check_ms = check_->check_ms();
  }
  stats_.total_ms = absl::ToDoubleMilliseconds(now - start_);
  if (live_round_start_pages_.has_value()) {
    // Counted down as the round's pages go out, so the figure (and the
    // metric) is what the migration still has to send, not what it had
    // when the round began; the next sync sets it anew.
    const uint64_t sent = (writer_.pages_sent() + writer_.zero_pages() - *live_round_start_pages_) * kPage;
    stats_.remaining_bytes = round_set_bytes_ - std::min(round_set_bytes_, sent);
  }
  if (stats_.snapshot_total_bytes > 0) {
    stats_.snapshot_done_bytes =
        std::min(stats_.snapshot_total_bytes, (writer_.pages_sent() + writer_.zero_pages()) * kPage);
  }
  if (on_progress_) on_progress_(stats_);
}

absl::Status Sender::SendHeaderAndShape() {
  RETURN_IF_ERROR(writer_.WritePreamble());
  ASSIGN_OR_RETURN(std::vector<uint8_t> shape, source_.SaveShape());
  return writer_.WriteRecord(RecordType::kShape, 0, shape);
}

absl::Status Sender::SendMemoryEndAndState() {
  RETURN_IF_ERROR(writer_.WriteRecord(RecordType::kMemoryEnd, 0, {}));
  ASSIGN_OR_RETURN(std::vector<uint8_t> state, source_.SaveState());
  return writer_.WriteRecord(RecordType::kState, 0, state);
}

void Sender::BoundSocketWaits() {
  // Every wait of the channel (a write that finds no room, a read of an
  // answer) makes progress within this or fails: a destination that
  // stopped reading ends the migration instead of hanging it.
  if (channel_.is_socket()) channel_.set_io_timeout(absl::Milliseconds(options_.peer_timeout_ms));
}

absl::Status Sender::SendPages(const std::vector<PageSet>& sets, bool live) {
  if (!check_) return writer_.SendPages(sets, live);
  return writer_.SendPages(sets, live, [this](size_t region, uint64_t page, const uint8_t* data, bool zero) {
    check_->RecordSent(region, page, data, zero);
  });
}

std::vector<PageSet> Sender::CollectHints(const std::vector<PageSet>& populated) {
  const memory::GuestMemory& mem = source_.memory();
  if (!options_.free_page_hinting || hints_ == nullptr || !hints_->CanHint()) return RangeSets(mem, {});
  stats_.phase = "hinting";
  Report(true);
  const uint64_t before = hints_->HintReportsCompleted();
  absl::Status st = hints_->StartHinting();
  if (!st.ok()) {
    LOG_INFO("migration: free page hinting not used: %s", std::string(st.message()));
    return RangeSets(mem, {});
  }
  hinting_started_ = true;
  // Wait for the guest's report to finish, but not for a guest too busy to
  // make progress: once blocks flow, a second without one ends the wait.
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Milliseconds(options_.hint_timeout_ms);
  std::vector<memory::GpaRange> ranges;
  absl::Time last_progress = start;
  // A guest that has not sent its first block within a few seconds is too
  // busy to report before the guest is better moved without hints.
  const absl::Time first_deadline = std::min(deadline, start + absl::Seconds(3));
  // Linux hands out its most recently freed blocks first and the memory it
  // has never used (freed to the tail of its lists at boot) last, so a
  // report covers the populated free memory, the only kind whose hint
  // saves bytes, well before it ends. A long run of never-populated blocks
  // means the rest of the report saves next to nothing; a populated free
  // page it would still have named is sent instead, which costs bytes only.
  const uint64_t enough_unpopulated = options_.hint_unpopulated_run_bytes / kPage;
  uint64_t unpopulated_run = 0;
  auto past_populated = [&] { return enough_unpopulated > 0 && unpopulated_run >= enough_unpopulated; };
  while (hints_->HintReportsCompleted() == before && absl::Now() < deadline && !past_populated() && !Cancelled() &&
         (ranges.empty() ? absl::Now() < first_deadline : absl::Now() - last_progress < absl::Seconds(1))) {
    absl::SleepFor(absl::Milliseconds(5));
    std::vector<memory::GpaRange> more = hints_->TakeHintedRanges();
    if (!more.empty()) {
      last_progress = absl::Now();
      for (const memory::GpaRange& range : more) {
        unpopulated_run = AnyPageIn(mem, range, populated) ? 0 : unpopulated_run + range.length / kPage;
      }
      // While the guest is still reporting: this wait is its time anyway.
      if (check_) check_->RecordHintBaseline(RangeSets(mem, more), populated, 1);
      ranges.insert(ranges.end(), more.begin(), more.end());
    }
  }
  stats_.hint_wait_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (hints_->HintReportsCompleted() != before) {
    stats_.hint_report = "complete";
  } else if (past_populated()) {
    stats_.hint_report = "past-populated";
  } else {
    stats_.hint_report = "timed-out";
    LOG_INFO("migration: the guest's free page report did not finish (%.0f ms); using what arrived",
             stats_.hint_wait_ms);
  }
  // Stopped before the dirty-log sync that follows, so every hint is in
  // before the log is read: a hinted page the guest took back since is in
  // that log and is sent after all.
  (void)hints_->StopHinting();
  std::vector<memory::GpaRange> rest = hints_->TakeHintedRanges();
  if (check_) check_->RecordHintBaseline(RangeSets(mem, rest), populated, ScanThreads());
  ranges.insert(ranges.end(), rest.begin(), rest.end());
  std::vector<PageSet> hinted = RangeSets(mem, ranges);
  stats_.hinted_pages += CountPages(hinted);
  return hinted;
}

std::vector<PageSet> Sender::RoundOneSets(bool use_hints) {
  const memory::GuestMemory& mem = source_.memory();
  // Which pages have storage, read once (logging is on: a page that gets
  // storage later was written, and that write is in the log).
  std::vector<PageSet> populated = PopulatedSets(mem);
  if (use_hints) hinted_ = CollectHints(populated);
  const std::vector<PageSet> ballooned = RangeSets(mem, hints_ ? hints_->BalloonedRanges() : std::vector<memory::GpaRange>{});
  const std::vector<memory::MappedRegion>& regions = mem.Regions();
  std::vector<PageSet> sets;
  for (size_t i = 0; i < regions.size(); ++i) {
    PageSet set = std::move(populated[i]);
    stats_.skipped_unpopulated += regions[i].size / kPage - set.Count();
    uint64_t before = set.Count();
    set.Subtract(ballooned[i]);
    stats_.skipped_ballooned += before - set.Count();
    if (use_hints) {
      before = set.Count();
      set.Subtract(hinted_[i]);
      stats_.skipped_hinted += before - set.Count();
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

absl::StatusOr<std::vector<PageSet>> Sender::TakeDirty() {
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  std::vector<PageSet> sets;
  for (size_t i = 0; i < regions.size(); ++i) {
    PageSet set(regions[i].size / kPage);
    ASSIGN_OR_RETURN(std::vector<uint64_t> dirty, source_.TakeDirtyPages(i));
    set.Or(dirty);
    sets.push_back(std::move(set));
  }
  return sets;
}

absl::StatusOr<RecordHeader> Sender::ReadAnswer(const char* waiting_for) {
  // One bound for the whole answer, the rest of a header whose first
  // bytes came in time included.
  const absl::Duration timeout = absl::Milliseconds(options_.peer_timeout_ms);
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(bool readable, channel_.WaitReadable(timeout));
  if (!readable) {
    return absl::DeadlineExceededError(absl::StrCat("the destination did not answer within ",
                                                    absl::FormatDuration(timeout), " (waiting for its ", waiting_for,
                                                    ")"));
  }
  RecordHeader h;
  absl::Status st = channel_.ReadExactBy(&h, sizeof(h), deadline);
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("the connection to the destination ended (waiting for its ",
                                               waiting_for, "): ", st.message()));
  }
  if (!HeaderCrcOk(h)) return absl::DataLossError("the destination's answer is corrupt");
  if (h.type == static_cast<uint32_t>(RecordType::kAck) || h.type == static_cast<uint32_t>(RecordType::kRoundSync) ||
      h.type == static_cast<uint32_t>(RecordType::kCommitted)) {
    return h;
  }
  if (h.type == static_cast<uint32_t>(RecordType::kError) && h.length <= kMaxErrorBytes) {
    std::string text(h.length, '\0');
    RETURN_IF_ERROR(channel_.ReadExact(text.data(), text.size()));
    if (Crc32c(0, text.data(), text.size()) != h.payload_crc) {
      return absl::DataLossError("the destination's error record is corrupt");
    }
    // The receiver sends ERROR only when it will not run the guest (it
    // exits after it): a definite answer.
    refused_ = true;
    return absl::AbortedError(absl::StrCat("the destination refused the VM: ", text));
  }
  return absl::DataLossError(absl::StrCat("unexpected ", RecordTypeName(h.type), " record from the destination"));
}

absl::Status Sender::WaitForRoundSync(uint64_t round) {
  if (!channel_.is_socket()) return absl::OkStatus();
  while (true) {
    ASSIGN_OR_RETURN(RecordHeader h, ReadAnswer("round sync"));
    if (h.type != static_cast<uint32_t>(RecordType::kRoundSync)) {
      return absl::DataLossError("the destination acknowledged before the memory was sent");
    }
    if (h.gpa >= round) return absl::OkStatus();  // earlier rounds' syncs are skipped
  }
}

absl::Status Sender::WaitFor(RecordType type, const char* what) {
  while (true) {
    ASSIGN_OR_RETURN(RecordHeader h, ReadAnswer(what));
    if (h.type == static_cast<uint32_t>(type)) return absl::OkStatus();
    if (h.type != static_cast<uint32_t>(RecordType::kRoundSync)) {
      return absl::DataLossError(
          absl::StrCat("unexpected ", RecordTypeName(h.type), " record from the destination (waiting for its ", what, ")"));
    }
  }
}

absl::Status Sender::Commit() {
  stats_.phase = kPhaseAwaitingAck;
  Report(true);
  RETURN_IF_ERROR(WaitFor(RecordType::kAck, "acknowledgement"));
  // From the first byte of COMMIT on, the destination may run the guest:
  // nothing after this resumes it here.
  commit_attempted_ = true;
  stats_.phase = kPhaseCommitting;
  RETURN_IF_ERROR(writer_.WriteRecord(RecordType::kCommit, 0, {}));
  commit_sent_time_ = absl::Now();  // the destination's vCPUs start as it arrives
  return WaitFor(RecordType::kCommitted, "confirmation that COMMIT arrived");
}

absl::Status Sender::SendLiveRound(const std::vector<PageSet>& sets) {
  ++stats_.round;
  stats_.remaining_bytes = CountPages(sets) * kPage;
  Report(true);
  round_set_bytes_ = stats_.remaining_bytes;
  const absl::Time round_start = absl::Now();
  const uint64_t round_bytes = writer_.bytes_written();
  writer_.RestartCap();
  live_round_start_pages_ = writer_.pages_sent() + writer_.zero_pages();
  const absl::Status sent = SendPages(sets, true);
  live_round_start_pages_.reset();
  RETURN_IF_ERROR(sent);
  RETURN_IF_ERROR(writer_.WriteRecord(RecordType::kRoundEnd, stats_.round, {}));
  const absl::Duration took = absl::Now() - round_start;
  policy_.RoundSent(writer_.bytes_written() - round_bytes, absl::ToDoubleSeconds(took));
  stats_.rate_bytes_per_s = policy_.measured_rate_bytes_per_s();
  stats_.round_history.push_back({.round = stats_.round,
                                  .dirty_bytes = round_set_bytes_,
                                  .bytes_sent = writer_.bytes_written() - round_bytes,
                                  .ms = absl::ToDoubleMilliseconds(took)});
  return absl::OkStatus();
}

bool Sender::LastLiveRound(const std::vector<PageSet>& dirty) {
  stats_.remaining_bytes = CountPages(dirty) * kPage;
  const PrecopyPolicy::Verdict verdict = policy_.AfterRound(stats_.remaining_bytes, round_set_bytes_, stats_.round,
                                                            check_.has_value() && check_->WantsAnotherCheck());
  stats_.expected_downtime_ms = verdict.expected_downtime_ms;
  return verdict.stop;
}

absl::StatusOr<std::vector<PageSet>> Sender::PrecopyRounds() {
  // Round 1: every populated page minus balloon and hints, plus whatever
  // the guest dirtied since logging began (that includes hinted pages it
  // has already reused).
  std::vector<PageSet> sets = RoundOneSets(true);
  if (check_) check_->SetHinted(hinted_);
  ASSIGN_OR_RETURN(std::vector<PageSet> dirty, TakeDirty());
  for (size_t i = 0; i < sets.size(); ++i) {
    sets[i].Or(dirty[i].words());
    // Hinted pages the guest has written since are sent after all.
    if (i < hinted_.size()) stats_.skipped_hinted -= std::min(stats_.skipped_hinted, dirty[i].CountCommon(hinted_[i]));
  }
  stats_.phase = "precopy";
  const WriteCheck::TakeDirty take_dirty = [this] { return TakeDirty(); };
  while (true) {
    RETURN_IF_ERROR(SendLiveRound(sets));
    ASSIGN_OR_RETURN(sets, TakeDirty());
    if (!check_) {
      if (LastLiveRound(sets)) return sets;
      continue;
    }
    // Hinted pages the guest has not written since are free memory it
    // still holds as hint blocks (until DONE, written while paused), most
    // of an idle guest's populated memory. The guest writes one only after
    // its shrinker gave the block back early, through its vCPU, which the
    // tracking sees. So they are left out of the per-round checks, and the
    // check before the pause, which covers every other page, reads a
    // random one in 64 of them: enough to catch tracking that misses
    // writes to them wholesale. Once any check has caught a missed write
    // anywhere, that check reads all of them (FORMAT.md).
    RETURN_IF_ERROR(check_->LiveCheck(sets, WriteCheck::HintedPages::kNone, stats_.round, take_dirty));
    if (!LastLiveRound(sets)) continue;
    if (stats_.hinted_pages == 0) return sets;
    RETURN_IF_ERROR(check_->LiveCheck(sets, check_->LastLiveCheckCoverage(), stats_.round, take_dirty));
    if (LastLiveRound(sets)) return sets;
  }
}

absl::Status Sender::StopAndCopy(const std::vector<PageSet>& dirty) {
  // The destination has everything up to the last round in guest memory
  // before the guest stops: the downtime then holds only the last pages,
  // not whatever the socket buffers still held.
  stats_.phase = "stop-and-copy";
  Report(true);
  RETURN_IF_ERROR(WaitForRoundSync(stats_.round));
  MigrationStats::DowntimeParts& parts = stats_.downtime_parts;
  absl::Time mark = pause_time_ = absl::Now();
  auto lap = [&mark](double& part) {
    const absl::Time now = absl::Now();
    part = absl::ToDoubleMilliseconds(now - mark);
    mark = now;
  };
  source_.PauseGuest();
  paused_ = true;
  // DONE while paused, so it is in the saved balloon config and the guest
  // gives its hint blocks back at the destination (or here, if this
  // fails). Not earlier: while the guest holds them it does not reuse the
  // hinted pages, and giving the blocks back keeps its vCPU busy, which on
  // an emulated vCPU slows the live rounds and checks and dirties pages up
  // to the pause.
  if (hinting_started_) {
    (void)hints_->DoneHinting();
    hinting_started_ = false;
  }
  lap(parts.pause);
  ASSIGN_OR_RETURN(std::vector<PageSet> last, TakeDirty());
  for (size_t i = 0; i < dirty.size(); ++i) last[i].Or(dirty[i].words());
  const uint64_t last_pages = CountPages(last);
  stats_.final_pages += last_pages;
  lap(parts.sync);
  ++stats_.round;
  writer_.RestartCap();
  const uint64_t paused_bytes = writer_.bytes_written();
  RETURN_IF_ERROR(SendPages(last, false));
  lap(parts.last_pages);
  if (check_) {
    const WriteCheck::PausedPass pass = check_->Paused(last);
    stats_.bypassed_pages += pass.bypassed;
    if (pass.rescan) stats_.paused_rescan = true;
    if (!pass.pages.empty()) RETURN_IF_ERROR(SendPages(pass.pages, false));
  }
  lap(parts.rescan);
  stats_.round_history.push_back({.round = stats_.round,
                                  .dirty_bytes = last_pages * kPage,
                                  .bytes_sent = writer_.bytes_written() - paused_bytes,
                                  .ms = parts.last_pages + parts.rescan,
                                  .paused = true});
  RETURN_IF_ERROR(SendMemoryEndAndState());
  // A cancel that came first wins; after this one, cancel is refused.
  if (cancel_ != nullptr && !cancel_->PassPointOfNoReturn()) return absl::CancelledError("cancelled");
  // A failed END write leaves no whole END record at the destination, which
  // therefore never acknowledges and never gets COMMIT: resuming is safe.
  RETURN_IF_ERROR(writer_.WriteRecord(RecordType::kEnd, 0, {}));
  end_sent_ = true;
  lap(parts.state);
  absl::Status committed = Commit();
  // The downtime ends when COMMIT leaves (its arrival starts the guest),
  // not when COMMITTED comes back.
  if (commit_attempted_) parts.ack = absl::ToDoubleMilliseconds(commit_sent_time_ - mark);
  return committed;
}

absl::Status Sender::Fail(absl::Status status) {
  if (hinting_started_) (void)hints_->DoneHinting();
  hinting_started_ = false;
  if (logging_) (void)source_.SetDirtyLogging(false);
  logging_ = false;
  // Before END, and on the destination's ERROR before COMMIT, the
  // destination cannot run the guest. Otherwise it might: a lost ACK, a
  // lost COMMITTED, a connection cut look the same from here.
  const bool unknown = end_sent_ && (commit_attempted_ || !refused_);
  // A stalled destination is already named by the channel's deadline
  // ("made no progress for ..."), which peer_timeout_ms sets.
  std::string error(status.message());
  if (unknown) {
    stats_.phase = kPhaseUnknownOutcome;
    error = absl::StrCat(error, commit_attempted_
                                    ? "; COMMIT was sent but not confirmed: the destination may be running the "
                                      "guest, so it stays paused here (check the destination, then resume or "
                                      "abandon it here)"
                                    : "; COMMIT was not sent, so the destination cannot run the guest, which stays "
                                      "paused here until an operator resumes or abandons it");
  } else {
    if (paused_) source_.ResumeGuest();
    paused_ = false;
    stats_.phase = Cancelled() ? kPhaseCancelled : kPhaseFailed;
    if (Cancelled()) error = "cancelled by the operator; the guest runs here again";
  }
  stats_.error = error;
  Report(true);
  return absl::Status(status.code(), error);
}

absl::StatusOr<MigrationStats> Sender::Migrate() {
  start_ = absl::Now();
  stats_.guest_ram_bytes = source_.memory().TotalSize();
  if (cancel_ != nullptr) cancel_->Arm(channel_.is_socket() ? channel_.fd() : -1);
  absl::Cleanup disarm = [this] {
    if (cancel_ != nullptr) cancel_->Disarm();
  };
  BoundSocketWaits();
  if (options_.verify_final_pass) check_.emplace(source_.memory());
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(SendHeaderAndShape());
    RETURN_IF_ERROR(source_.SetDirtyLogging(true));
    logging_ = true;
    ASSIGN_OR_RETURN(std::vector<PageSet> dirty, PrecopyRounds());
    return StopAndCopy(dirty);
  }();
  stats_.remaining_bytes = 0;
  if (!st.ok()) return Fail(st);
  stats_.downtime_ms = absl::ToDoubleMilliseconds(commit_sent_time_ - pause_time_);
  stats_.phase = kPhaseCompleted;
  Report(true);
  return stats_;
}

absl::StatusOr<MigrationStats> Sender::Snapshot() {
  start_ = absl::Now();
  stats_.guest_ram_bytes = source_.memory().TotalSize();
  source_.PauseGuest();
  absl::Cleanup resume = [&] { source_.ResumeGuest(); };
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(SendHeaderAndShape());
    stats_.phase = "stop-and-copy";
    stats_.round = 1;
    const std::vector<PageSet> sets = RoundOneSets(false);
    // The snapshot's one round goes through each of these pages once, so
    // their count is the whole of the work the bar shows.
    stats_.snapshot_total_bytes = CountPages(sets) * kPage;
    Report(true);
    RETURN_IF_ERROR(SendPages(sets, false));
    RETURN_IF_ERROR(SendMemoryEndAndState());
    // A file has no round trip: END is its last record, no commit follows.
    RETURN_IF_ERROR(writer_.WriteRecord(RecordType::kEnd, 0, {}));
    return channel_.Sync();
  }();
  stats_.downtime_ms = stats_.total_ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
  if (!st.ok()) return Fail(st);
  stats_.phase = "completed";
  Report(true);
  return stats_;
}

}  // namespace migration
