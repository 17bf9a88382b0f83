#include "migration/sender.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdlib>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/crc32c.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;
// One data record carries at most this many pages: big enough that headers
// cost nothing (32 bytes per MiB), small enough that a torn live record
// costs little and the receiver's buffer bound stays modest.
constexpr uint64_t kPagesPerRecord = 256;
// PVM checks (FORMAT.md, "Verified final pass"): at most this many live
// checks while missed writes keep turning up on new pages, and at most this
// many pages missed by the tracking that are simply sent again while paused
// instead of re-checking every page.
constexpr uint32_t kMaxLiveChecks = 6;
constexpr uint64_t kMaxBypassedPages = 1024;
// A writev batch: about this many bytes (or IOV_MAX iovecs).
constexpr uint64_t kBatchBytes = 8ull << 20;

bool IsZeroPage(const uint8_t* page) {
  const auto* words = reinterpret_cast<const uint64_t*>(page);
  uint64_t acc = 0;
  for (size_t i = 0; i < kPage / 8; i += 8) {
    acc |= words[i] | words[i + 1] | words[i + 2] | words[i + 3] | words[i + 4] | words[i + 5] | words[i + 6] |
           words[i + 7];
    if (acc != 0) return false;
  }
  return true;
}

uint64_t ZeroPageFingerprint() {
  static const uint64_t fingerprint = [] {
    std::vector<uint8_t> zero(kPage);
    return PageFingerprint(zero.data());
  }();
  return fingerprint;
}

// Collects the records of up to one chunk after another for one writev.
// A chunk is at most kPagesPerRecord pages and never straddles a flush, so
// the records of a chunk may point into the chunk's bounce copy.
class Batch {
 public:
  // `bounce` is the copy space, kept by the caller across batches: filling
  // fresh memory costs milliseconds per MiB on a PVM host, which must not
  // be paid again in the paused last round.
  Batch(Channel& channel, std::vector<uint8_t>& bounce) : channel_(channel), bounce_(bounce) {
    headers_.reserve(kMaxIovecs);
    iov_.reserve(kMaxIovecs);
  }
  // Whether another chunk may not fit (bytes, bounce space or iovecs: a
  // chunk of alternating zero and data pages takes the most).
  bool Full() const {
    return bytes_ >= kBatchBytes || bounce_used_ >= kBatchBytes || iov_.size() + kChunkIovecs > kMaxIovecs;
  }
  void Add(const RecordHeader& h, const uint8_t* payload, uint64_t length) {
    headers_.push_back(h);  // reserved: addresses stay valid
    iov_.push_back({&headers_.back(), sizeof(RecordHeader)});
    if (length > 0) iov_.push_back({const_cast<uint8_t*>(payload), length});
    bytes_ += sizeof(RecordHeader) + length;
  }
  absl::Status Flush() {
    if (iov_.empty()) return absl::OkStatus();
    absl::Status st = channel_.WriteAll(iov_);
    iov_.clear();
    headers_.clear();
    bytes_ = 0;
    bounce_used_ = 0;
    return st;
  }
  // Room for one chunk's copy, valid until Flush().
  uint8_t* BounceSpace(uint64_t length) {
    // A batch fills up to kBatchBytes, and one more chunk may start below it.
    constexpr uint64_t kBounceBytes = kBatchBytes + kPagesPerRecord * kPage;
    if (bounce_.size() < kBounceBytes) bounce_.resize(kBounceBytes);
    uint8_t* out = bounce_.data() + bounce_used_;
    bounce_used_ += length;
    return out;
  }

 private:
  static constexpr size_t kChunkIovecs = kPagesPerRecord + kPagesPerRecord / 2 + 2;
  static constexpr size_t kMaxIovecs = 1024;  // IOV_MAX
  Channel& channel_;
  std::vector<uint8_t>& bounce_;
  uint64_t bounce_used_ = 0;
  std::vector<RecordHeader> headers_;
  std::vector<iovec> iov_;
  uint64_t bytes_ = 0;
};

}  // namespace

void Sender::Report(bool force) {
  absl::Time now = absl::Now();
  if (!force && now - last_report_ < absl::Milliseconds(100)) return;
  last_report_ = now;
  stats_.bytes_sent = channel_.bytes_written();
  stats_.total_ms = absl::ToDoubleMilliseconds(now - start_);
  if (on_progress_) on_progress_(stats_);
}

absl::Status Sender::SendRecord(RecordType type, uint64_t gpa, std::span<const uint8_t> payload) {
  RecordHeader h = MakeHeader(type, 0, gpa, payload.size(), Crc32c(0, payload.data(), payload.size()));
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<uint8_t*>(payload.data()), payload.size()}};
  return channel_.WriteAll({iov, payload.empty() ? 1u : 2u});
}

absl::Status Sender::SendHeaderAndShape() {
  Preamble p = MakePreamble();
  RETURN_IF_ERROR(channel_.Write(&p, sizeof(p)));
  ASSIGN_OR_RETURN(std::vector<uint8_t> shape, source_.SaveShape());
  return SendRecord(RecordType::kShape, 0, shape);
}

bool Sender::ScanPages(size_t region, const PageSet& pages,
                       const std::function<void(size_t, uint64_t, const uint8_t*)>& visit, size_t threads) {
  const memory::MappedRegion& r = source_.memory().Regions()[region];
  // Chunks of up to kPagesPerRecord contiguous pages, each read through
  // the memfd (see GuestMemory::ReadBacking), shared out over the cores:
  // while paused every core is free, and while live the vCPUs get the rest.
  std::vector<std::pair<uint64_t, uint64_t>> chunks;
  pages.ForEachRun([&](uint64_t first, uint64_t end) {
    for (uint64_t p = first; p < end; p += kPagesPerRecord) chunks.emplace_back(p, std::min(end, p + kPagesPerRecord));
  });
  threads = std::max<size_t>(threads, 1);
  std::atomic<bool> read_failed{false};
  auto scan = [&](size_t t) {
    std::vector<uint8_t> buffer(kPagesPerRecord * kPage);
    for (size_t c = t; c < chunks.size() && !read_failed; c += threads) {
      const auto [first, end] = chunks[c];
      if (!source_.memory().ReadBacking(r.gpa + first * kPage, {buffer.data(), (end - first) * kPage}).ok()) {
        read_failed = true;
        return;
      }
      for (uint64_t p = first; p < end; ++p) visit(t, p, buffer.data() + (p - first) * kPage);
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(scan, t);
  scan(0);
  for (std::thread& w : workers) w.join();
  return !read_failed;
}

size_t Sender::ScanThreads() { return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8); }

PageSet Sender::PopulatedSet(size_t region) const {
  PageSet set(source_.memory().Regions()[region].size / kPage);
  for (auto [first, end] : source_.memory().PopulatedPages(region)) set.Set(first, end);
  return set;
}

void Sender::RecordHintBaseline(const std::vector<PageSet>& hinted, const std::vector<PageSet>& populated,
                                size_t threads) {
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  for (size_t i = 0; i < regions.size() && i < hinted.size() && i < populated.size() && i < page_crc_.size(); ++i) {
    // Only the sample has fingerprints (see ChangedPages). A
    // hole reads as zeros; a read fault may fill it with a zero page later,
    // which is no change.
    PageSet sampled = hinted[i].Sample64(hint_sample_);
    if (sampled.Count() == 0) continue;
    sampled.ForEachRun([&](uint64_t first, uint64_t end) {
      for (uint64_t p = first; p < end; ++p) page_crc_[i][p] = ZeroPageFingerprint();
    });
    sampled.Intersect(populated[i]);
    // Each page is visited once, so the threads write disjoint entries. A
    // page that cannot be read keeps the zero fingerprint and, if it holds
    // data, shows up as changed later: sent, never lost.
    (void)ScanPages(
        i, sampled, [&](size_t, uint64_t p, const uint8_t* data) { page_crc_[i][p] = PageFingerprint(data); },
        threads);
  }
}

std::vector<PageSet> Sender::ChangedPages(const std::vector<PageSet>& exclude, HintedPages hinted_pages,
                                          std::vector<PageSet>* unfingerprinted) {
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  std::vector<PageSet> changed_sets;
  if (unfingerprinted) unfingerprinted->clear();
  for (size_t i = 0; i < regions.size(); ++i) {
    PageSet candidates = PopulatedSet(i);
    candidates.Subtract(exclude[i]);
    PageSet not_compared(regions[i].size / kPage);
    if (i < hinted_.size()) {
      // Held hinted pages outside the sample have no fingerprint to compare
      // with: with kAll they go to `unfingerprinted`, for the caller to send.
      PageSet held = hinted_[i];
      held.Subtract(known_[i]);
      if (hinted_pages != HintedPages::kNone) held.Subtract(held.Sample64(hint_sample_));
      if (hinted_pages == HintedPages::kAll) {
        not_compared = held;
        not_compared.Intersect(candidates);
      }
      candidates.Subtract(held);
    }
    if (unfingerprinted) unfingerprinted->push_back(std::move(not_compared));
    std::vector<std::vector<uint64_t>> changed(ScanThreads());
    const bool read_all = ScanPages(i, candidates, [&](size_t t, uint64_t p, const uint8_t* page) {
      const bool hinted = i < hinted_.size() && hinted_[i].Test(p) && !known_[i].Test(p);
      if (known_[i].Test(p) || hinted) {
        // The destination holds this fingerprint's content, or the page is
        // free memory the guest has not touched since it hinted it.
        if (PageFingerprint(page) != page_crc_[i][p]) changed[t].push_back(p);
      } else if (!IsZeroPage(page)) {
        changed[t].push_back(p);  // never sent and not zero: the destination lacks it
      }
    });
    // Pages that could not be read count as changed: sending them again is
    // always safe.
    PageSet set = read_all ? PageSet(regions[i].size / kPage) : candidates;
    for (const std::vector<uint64_t>& pages : changed) {
      for (uint64_t p : pages) set.Set(p, p + 1);
    }
    changed_sets.push_back(std::move(set));
  }
  return changed_sets;
}

absl::Status Sender::LiveCheck(std::vector<PageSet>& next, HintedPages hinted) {
  const absl::Time start = absl::Now();
  absl::Cleanup timed = [&] { stats_.check_ms += absl::ToDoubleMilliseconds(absl::Now() - start); };
  std::vector<PageSet> unfingerprinted;
  std::vector<PageSet> changed = ChangedPages(next, hinted, &unfingerprinted);
  // Tracking marks a page before the write that changes it lands, so any
  // change the scan saw through ordinary tracking is in this sync.
  ASSIGN_OR_RETURN(std::vector<PageSet> explained, TakeDirty());
  if (bypassed_.empty()) {
    for (const PageSet& s : next) bypassed_.emplace_back(s.pages());
  }
  ++live_checks_;
  new_misses_in_last_check_ = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    PageSet missed = changed[i];
    missed.Subtract(explained[i]);
    const uint64_t count = missed.Count();
    if (count > 0) {
      live_misses_ += count;
      stats_.unlogged_pages += count;
      PageSet fresh = missed;
      fresh.Subtract(bypassed_[i]);
      new_misses_in_last_check_ += fresh.Count();
      bypassed_[i].Or(missed.words());
      // Which pages, to find the writer that bypasses the tracking.
      std::string first_few;
      int listed = 0;
      missed.ForEachRun([&](uint64_t first, uint64_t end) {
        if (listed++ < 8) {
          absl::StrAppendFormat(&first_few, " 0x%x+%u", source_.memory().Regions()[i].gpa + first * kPage,
                                end - first);
        }
      });
      LOG_INFO("migration: round %u: %u pages changed without a dirty-log or write-tracking entry (gpa+pages:%s%s)",
               stats_.round, count, first_few, listed > 8 ? " ..." : "");
    }
    next[i].Or(explained[i].words());
    next[i].Or(changed[i].words());
  }
  AddUnfingerprinted(unfingerprinted, next);
  return absl::OkStatus();
}

void Sender::AddUnfingerprinted(const std::vector<PageSet>& unfingerprinted, std::vector<PageSet>& sets) {
  uint64_t count = 0;
  for (size_t i = 0; i < unfingerprinted.size() && i < sets.size(); ++i) {
    count += unfingerprinted[i].Count();
    sets[i].Or(unfingerprinted[i].words());
  }
  if (count > 0) {
    LOG_INFO("migration: the tracking missed writes, so the %u hinted pages the guest still holds and no check can "
             "compare are sent",
             count);
  }
}

bool Sender::BypassedPagesAreStable() const {
  uint64_t count = 0;
  for (const PageSet& b : bypassed_) count += b.Count();
  return live_checks_ >= 2 && new_misses_in_last_check_ == 0 && count <= kMaxBypassedPages;
}

absl::Status Sender::SendSets(const std::vector<PageSet>& sets, bool live) {
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  const bool track = options_.verify_final_pass;
  // Pages go straight from guest memory, unless the dirty log cannot be
  // trusted to report a page changed under the send (see FORMAT.md) or the
  // host asks for it: then from a copy read through the memfd, which is
  // exactly what the record carries and what the fingerprints describe,
  // and which leaves the VMM's page tables alone (GuestMemory::ReadBacking).
  const bool bounce = track || options_.read_through_memfd;
  Batch batch(channel_, bounce_buffer_);
  absl::Status status;
  const uint32_t flags = live ? kFlagLive : 0;
  // Records for pages [p, p + n) of region i, whose bytes are at `data`.
  auto add_chunk = [&](size_t i, uint64_t p, uint64_t n, const uint8_t* data) {
    const memory::MappedRegion& r = regions[i];
    uint64_t k = 0;
    while (k < n) {
      // Page k opens the run whatever it reads as later: live memory may
      // change under a second look.
      const bool zero = IsZeroPage(data + k * kPage);
      uint64_t run = k + 1;
      while (run < n && IsZeroPage(data + run * kPage) == zero) ++run;
      if (track) {
        for (uint64_t q = k; q < run; ++q) {
          page_crc_[i][p + q] = zero ? ZeroPageFingerprint() : PageFingerprint(data + q * kPage);
          known_[i].Set(p + q, p + q + 1);
        }
      }
      const uint64_t length = (run - k) * kPage;
      if (zero) {
        batch.Add(MakeHeader(RecordType::kZeroPages, flags, r.gpa + (p + k) * kPage, length, 0), nullptr, 0);
        stats_.zero_pages += run - k;
      } else {
        const uint8_t* payload = data + k * kPage;
        batch.Add(MakeHeader(RecordType::kPages, flags, r.gpa + (p + k) * kPage, length, Crc32c(0, payload, length)),
                  payload, length);
        stats_.pages_sent += run - k;
        cap_bytes_ += length;
      }
      k = run;
    }
  };
  for (size_t i = 0; i < sets.size() && status.ok(); ++i) {
    const memory::MappedRegion& r = regions[i];
    sets[i].ForEachRun([&](uint64_t first, uint64_t end) {
      for (uint64_t p = first; p < end && status.ok();) {
        const uint64_t n = std::min(end - p, kPagesPerRecord);
        const uint8_t* data = r.host + p * kPage;
        if (bounce) {
          uint8_t* copy = batch.BounceSpace(n * kPage);
          status = source_.memory().ReadBacking(r.gpa + p * kPage, {copy, n * kPage});
          if (!status.ok()) break;
          data = copy;
        }
        add_chunk(i, p, n, data);
        p += n;
        if (batch.Full()) {
          status = batch.Flush();
          if (options_.bandwidth_bytes_per_s > 0) {
            // Sleep off whatever is ahead of the cap since the round began.
            absl::Duration due = absl::Seconds(static_cast<double>(cap_bytes_) / options_.bandwidth_bytes_per_s);
            absl::Duration ahead = due - (absl::Now() - cap_start_);
            if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
          }
          Report(false);
        }
      }
    });
  }
  if (status.ok()) status = batch.Flush();
  return status;
}

std::vector<PageSet> Sender::CollectHints(const std::vector<PageSet>& populated) {
  if (!options_.free_page_hinting || !source_.CanHint()) return RangeSets({});
  stats_.phase = "hinting";
  Report(true);
  const uint64_t before = source_.HintReportsCompleted();
  absl::Status st = source_.StartHinting();
  if (!st.ok()) {
    LOG_INFO("migration: free page hinting not used: %s", std::string(st.message()));
    return RangeSets({});
  }
  hinting_started_ = true;
  // Wait for the guest's report to finish, but not for a guest too busy to
  // make progress: once blocks flow, a second without one ends the wait.
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Milliseconds(options_.hint_timeout_ms);
  std::vector<GpaRange> ranges;
  absl::Time last_progress = start;
  // A guest that has not sent its first block within a few seconds is too
  // busy to report before the guest is better moved without hints.
  const absl::Time first_deadline = std::min(deadline, start + absl::Seconds(3));
  // Linux hands out its most recently freed blocks first and the memory it
  // has never used (freed to the tail of its lists at boot) last, so a
  // report covers the populated free memory, the only kind whose hint
  // saves bytes, well before it ends: in a 4 GiB guest with 2 GiB freed,
  // 540 ms into a 1000 ms report. A long run of never-populated blocks
  // means the rest of the report saves next to nothing; a populated free
  // page it would still have named is sent instead, which costs bytes only.
  const uint64_t enough_unpopulated = options_.hint_unpopulated_run_bytes / kPage;
  uint64_t unpopulated_run = 0;
  auto past_populated = [&] { return enough_unpopulated > 0 && unpopulated_run >= enough_unpopulated; };
  while (source_.HintReportsCompleted() == before && absl::Now() < deadline && !past_populated() &&
         (ranges.empty() ? absl::Now() < first_deadline : absl::Now() - last_progress < absl::Seconds(1))) {
    absl::SleepFor(absl::Milliseconds(5));
    std::vector<GpaRange> more = source_.TakeHintedRanges();
    if (!more.empty()) {
      last_progress = absl::Now();
      for (const GpaRange& range : more) {
        unpopulated_run = HasStorage(range, populated) ? 0 : unpopulated_run + range.second / kPage;
      }
      // While the guest is still reporting: this wait is its time anyway.
      if (options_.verify_final_pass) RecordHintBaseline(RangeSets(more), populated, 1);
      ranges.insert(ranges.end(), more.begin(), more.end());
    }
  }
  stats_.hint_wait_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (source_.HintReportsCompleted() != before) {
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
  (void)source_.StopHinting();
  std::vector<GpaRange> rest = source_.TakeHintedRanges();
  if (options_.verify_final_pass) RecordHintBaseline(RangeSets(rest), populated, ScanThreads());
  ranges.insert(ranges.end(), rest.begin(), rest.end());
  std::vector<PageSet> hinted = RangeSets(ranges);
  for (const PageSet& s : hinted) stats_.hinted_pages += s.Count();
  return hinted;
}

std::optional<std::pair<size_t, uint64_t>> Sender::RegionPage(memory::Gpa gpa) const {
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  for (size_t i = 0; i < regions.size(); ++i) {
    if (gpa >= regions[i].gpa && gpa < regions[i].end()) return std::pair{i, (gpa - regions[i].gpa) / kPage};
  }
  return std::nullopt;
}

bool Sender::HasStorage(const GpaRange& range, const std::vector<PageSet>& populated) const {
  const auto at = RegionPage(range.first);
  if (!at || at->first >= populated.size()) return false;
  return populated[at->first].AnyIn(at->second, at->second + range.second / kPage);
}

std::vector<PageSet> Sender::RangeSets(const std::vector<GpaRange>& ranges) const {
  std::vector<PageSet> sets;
  for (const memory::MappedRegion& r : source_.memory().Regions()) sets.emplace_back(r.size / kPage);
  for (const GpaRange& range : ranges) {
    if (const auto at = RegionPage(range.first)) {
      sets[at->first].Set(at->second, at->second + range.second / kPage);  // clipped to the region
    }
  }
  return sets;
}

std::vector<PageSet> Sender::RoundOneSets(bool use_hints) {
  // Which pages have storage, read once (logging is on: a page that gets
  // storage later was written, and that write is in the log).
  std::vector<PageSet> populated;
  for (size_t i = 0; i < source_.memory().Regions().size(); ++i) populated.push_back(PopulatedSet(i));
  if (use_hints) hinted_ = CollectHints(populated);
  const std::vector<PageSet>& hinted = hinted_;
  const std::vector<memory::MappedRegion>& regions = source_.memory().Regions();
  const std::vector<PageSet> ballooned = RangeSets(source_.BalloonedRanges());
  std::vector<PageSet> sets;
  for (size_t i = 0; i < regions.size(); ++i) {
    PageSet set = std::move(populated[i]);
    stats_.skipped_unpopulated += regions[i].size / kPage - set.Count();
    uint64_t before = set.Count();
    set.Subtract(ballooned[i]);
    stats_.skipped_ballooned += before - set.Count();
    if (use_hints) {
      before = set.Count();
      set.Subtract(hinted[i]);
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
  ASSIGN_OR_RETURN(bool readable, channel_.WaitReadable(absl::Seconds(120)));
  if (!readable) {
    return absl::DeadlineExceededError(
        absl::StrCat("the destination did not answer within 120 s (waiting for its ", waiting_for, ")"));
  }
  RecordHeader h;
  absl::Status st = channel_.ReadExact(&h, sizeof(h));
  if (!st.ok()) return absl::UnavailableError(absl::StrCat("the destination closed the connection: ", st.message()));
  if (!HeaderCrcOk(h)) return absl::DataLossError("the destination's answer is corrupt");
  if (h.type == static_cast<uint32_t>(RecordType::kAck) || h.type == static_cast<uint32_t>(RecordType::kRoundSync)) {
    return h;
  }
  if (h.type == static_cast<uint32_t>(RecordType::kError) && h.length <= kMaxErrorBytes) {
    std::string text(h.length, '\0');
    RETURN_IF_ERROR(channel_.ReadExact(text.data(), text.size()));
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

absl::Status Sender::WaitForAck() {
  while (true) {
    ASSIGN_OR_RETURN(RecordHeader h, ReadAnswer("acknowledgement"));
    if (h.type == static_cast<uint32_t>(RecordType::kAck)) return absl::OkStatus();
  }
}

absl::StatusOr<MigrationStats> Sender::Migrate() {
  start_ = absl::Now();
  stats_.guest_ram_bytes = source_.memory().TotalSize();
  if (options_.verify_final_pass) {
    for (const memory::MappedRegion& r : source_.memory().Regions()) {
      page_crc_.emplace_back(r.size / kPage);
      known_.emplace_back(r.size / kPage);
    }
  }
  bool paused = false;
  bool logging = false;
  absl::Time pause_time;
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(SendHeaderAndShape());
    RETURN_IF_ERROR(source_.SetDirtyLogging(true));
    logging = true;
    // Round 1: every populated page minus balloon and hints, plus whatever
    // the guest dirtied since logging began (that includes hinted pages it
    // has already reused).
    std::vector<PageSet> sets = RoundOneSets(true);
    ASSIGN_OR_RETURN(std::vector<PageSet> dirty, TakeDirty());
    for (size_t i = 0; i < sets.size(); ++i) {
      sets[i].Or(dirty[i].words());
      // Hinted pages the guest has written since are sent after all.
      if (i < hinted_.size()) stats_.skipped_hinted -= std::min(stats_.skipped_hinted, dirty[i].CountCommon(hinted_[i]));
    }
    stats_.phase = "precopy";
    while (true) {
      ++stats_.round;
      uint64_t pages = 0;
      for (const PageSet& s : sets) pages += s.Count();
      stats_.remaining_bytes = pages * kPage;
      Report(true);
      const absl::Time round_start = absl::Now();
      const uint64_t round_bytes = channel_.bytes_written();
      cap_start_ = round_start;
      cap_bytes_ = 0;
      const uint64_t round_set_bytes = stats_.remaining_bytes;
      RETURN_IF_ERROR(SendSets(sets, true));
      RETURN_IF_ERROR(SendRecord(RecordType::kRoundEnd, stats_.round, {}));
      const double seconds = absl::ToDoubleSeconds(absl::Now() - round_start);
      if (channel_.bytes_written() - round_bytes >= (1 << 20) && seconds > 0) {
        stats_.rate_bytes_per_s = static_cast<double>(channel_.bytes_written() - round_bytes) / seconds;
      }
      ASSIGN_OR_RETURN(sets, TakeDirty());
      // Whether this round was the last live one, from what is left now.
      auto done_iterating = [&] {
        uint64_t left = 0;
        for (const PageSet& s : sets) left += s.Count();
        stats_.remaining_bytes = left * kPage;
        // Until a rate is measured, assume the link moves 1 GiB/s: a tiny
        // first round says nothing about the link.
        const double rate = stats_.rate_bytes_per_s > 0 ? stats_.rate_bytes_per_s : double(1ull << 30);
        stats_.expected_downtime_ms = ExpectedDowntimeMs(stats_.remaining_bytes, rate);
        // After a check that caught new missed writes, one more round and
        // check show whether they keep coming from the same few pages (then
        // those are sent again while paused) or not (then everything is
        // re-checked while paused); see BypassedPagesAreStable().
        const bool recheck = options_.verify_final_pass && new_misses_in_last_check_ > 0 &&
                             live_checks_ < kMaxLiveChecks && stats_.round < options_.max_rounds;
        return !recheck && ShouldStopAndCopy(stats_.remaining_bytes, round_set_bytes, rate,
                                             options_.downtime_target_ms, stats_.round, options_.max_rounds);
      };
      if (!options_.verify_final_pass) {
        if (done_iterating()) break;
        continue;
      }
      // Hinted pages the guest has not written since are free memory it
      // still holds as hint blocks (until DONE, written while paused), most
      // of an idle guest's populated memory: 2 GiB of 4 in bench/migrate,
      // ~200 ms per scan here. The guest writes one only after its
      // shrinker gave the block back early, through its vCPU, which the
      // tracking sees. So they are left out of the per-round checks, and
      // the check before the pause, which covers every other page, reads a
      // random one in 64 of them: enough to catch tracking that misses
      // writes to them wholesale. Once any check has caught a missed write
      // anywhere, that check reads all of them (FORMAT.md).
      RETURN_IF_ERROR(LiveCheck(sets, HintedPages::kNone));
      if (!done_iterating()) continue;
      if (stats_.hinted_pages == 0) break;
      RETURN_IF_ERROR(LiveCheck(sets, live_misses_ > 0 ? HintedPages::kAll : HintedPages::kSample));
      if (done_iterating()) break;
    }
    // The destination has everything up to the last round in guest memory
    // before the guest stops: the downtime then holds only the last pages,
    // not whatever the socket buffers still held.
    stats_.phase = "stop-and-copy";
    Report(true);
    RETURN_IF_ERROR(WaitForRoundSync(stats_.round));
    // Stop and copy.
    MigrationStats::DowntimeParts& parts = stats_.downtime_parts;
    absl::Time mark = pause_time = absl::Now();
    auto lap = [&mark](double& part) {
      const absl::Time now = absl::Now();
      part = absl::ToDoubleMilliseconds(now - mark);
      mark = now;
    };
    source_.PauseGuest();
    paused = true;
    // DONE while paused, so it is in the saved balloon config and the guest
    // gives its hint blocks back at the destination (or here, if this
    // fails). Not earlier: while the guest holds them it does not reuse the
    // hinted pages, and giving ~500 blocks back (4 GiB guest) keeps its
    // emulated vCPU busy, which slowed the live rounds and checks on a
    // 2-core host, and dirtied pages up to the pause.
    if (hinting_started_) {
      (void)source_.DoneHinting();
      hinting_started_ = false;
    }
    lap(parts.pause);
    ASSIGN_OR_RETURN(std::vector<PageSet> last, TakeDirty());
    for (size_t i = 0; i < sets.size(); ++i) last[i].Or(sets[i].words());
    for (const PageSet& s : last) stats_.final_pages += s.Count();
    lap(parts.sync);
    ++stats_.round;
    cap_start_ = absl::Now();
    cap_bytes_ = 0;
    RETURN_IF_ERROR(SendSets(last, false));
    lap(parts.last_pages);
    if (options_.verify_final_pass && live_misses_ > 0) {
      if (BypassedPagesAreStable()) {
        // The tracking misses writes to a few fixed pages only (pages the
        // host writes through a long-held mapping, say): those go again.
        for (const PageSet& b : bypassed_) stats_.bypassed_pages += b.Count();
        RETURN_IF_ERROR(SendSets(bypassed_, false));
      } else {
        // The tracking misses writes anywhere: re-check every page while
        // paused (see FORMAT.md, "Verified final pass").
        std::vector<PageSet> unfingerprinted;
        std::vector<PageSet> fix = ChangedPages(last, HintedPages::kAll, &unfingerprinted);
        for (const PageSet& f : fix) stats_.unlogged_pages += f.Count();
        AddUnfingerprinted(unfingerprinted, fix);
        stats_.paused_rescan = true;
        RETURN_IF_ERROR(SendSets(fix, false));
      }
    }
    lap(parts.rescan);
    RETURN_IF_ERROR(SendRecord(RecordType::kMemoryEnd, 0, {}));
    ASSIGN_OR_RETURN(std::vector<uint8_t> state, source_.SaveState());
    RETURN_IF_ERROR(SendRecord(RecordType::kState, 0, state));
    RETURN_IF_ERROR(SendRecord(RecordType::kEnd, 0, {}));
    lap(parts.state);
    absl::Status acked = WaitForAck();
    lap(parts.ack);
    return acked;
  }();
  stats_.remaining_bytes = 0;
  if (!st.ok()) {
    if (hinting_started_) (void)source_.DoneHinting();
    if (logging) (void)source_.SetDirtyLogging(false);
    if (paused) source_.ResumeGuest();
    stats_.phase = "failed";
    stats_.error = std::string(st.message());
    Report(true);
    return st;
  }
  stats_.downtime_ms = absl::ToDoubleMilliseconds(absl::Now() - pause_time);
  stats_.phase = "completed";
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
    std::vector<PageSet> sets = RoundOneSets(false);
    RETURN_IF_ERROR(SendSets(sets, false));
    RETURN_IF_ERROR(SendRecord(RecordType::kMemoryEnd, 0, {}));
    ASSIGN_OR_RETURN(std::vector<uint8_t> state, source_.SaveState());
    RETURN_IF_ERROR(SendRecord(RecordType::kState, 0, state));
    RETURN_IF_ERROR(SendRecord(RecordType::kEnd, 0, {}));
    return channel_.Sync();
  }();
  stats_.downtime_ms = stats_.total_ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
  if (!st.ok()) {
    stats_.phase = "failed";
    stats_.error = std::string(st.message());
    Report(true);
    return st;
  }
  stats_.phase = "completed";
  Report(true);
  return stats_;
}

}  // namespace migration
