// SPDX-License-Identifier: MIT
#include "migration/receiver.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/crc32c.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;

// Adds the time since `mark` to `total` and moves `mark` on.
void Lap(absl::Time& mark, double& total) {
  const absl::Time now = absl::Now();
  total += absl::ToDoubleMilliseconds(now - mark);
  mark = now;
}

absl::Status Corrupt(const std::string& what) {
  return absl::DataLossError(absl::StrCat("corrupted migration stream: ", what));
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> Receiver::ReadTree(uint64_t length, uint32_t crc, const char* what) {
  if (length > kMaxTreeBytes) {
    return Corrupt(absl::StrFormat("%s section of %u bytes exceeds the %u-byte limit", what, length, kMaxTreeBytes));
  }
  std::vector<uint8_t> tree(length);
  RETURN_IF_ERROR(channel_.ReadExact(tree.data(), tree.size()));
  if (Crc32c(0, tree.data(), tree.size()) != crc) {
    return Corrupt(absl::StrCat("the ", what, " section failed its CRC32C check"));
  }
  return tree;
}

absl::Status Receiver::ReadPages(const RecordHeader& h) {
  memory::GuestMemory& mem = target_.memory();
  if (h.gpa % kPage != 0 || h.length % kPage != 0 || h.length == 0) {
    return Corrupt(absl::StrFormat("%s record [0x%x, +0x%x) is not page aligned", RecordTypeName(h.type), h.gpa,
                                   h.length));
  }
  // One region per record; find it for the torn-page bookkeeping.
  size_t region = 0;
  const std::vector<memory::MappedRegion>& regions = mem.Regions();
  while (region < regions.size() &&
         !(h.gpa >= regions[region].gpa && h.gpa - regions[region].gpa < regions[region].size &&
           h.length <= regions[region].size - (h.gpa - regions[region].gpa))) {
    ++region;
  }
  if (region == regions.size()) {
    return Corrupt(absl::StrFormat("%s record [0x%x, +0x%x) is outside guest RAM", RecordTypeName(h.type), h.gpa,
                                   h.length));
  }
  const uint64_t first = (h.gpa - regions[region].gpa) / kPage;
  const uint64_t end = first + h.length / kPage;
  absl::Time mark = absl::Now();
  if (h.type == static_cast<uint32_t>(RecordType::kZeroPages)) {
    RETURN_IF_ERROR(mem.Discard(h.gpa, h.length));
    Lap(mark, stats_.write_ms);
    torn_[region].Clear(first, end);
    stats_.zero_pages += h.length / kPage;
    return absl::OkStatus();
  }
  if (h.length > kMaxPagesRecordBytes) {
    return Corrupt(absl::StrFormat("pages record of %u bytes exceeds the %u-byte limit", h.length,
                                   kMaxPagesRecordBytes));
  }
  // The payload lands in a reused buffer, is checked there while it is
  // hot in cache, and only then goes into guest RAM through the memfd: no
  // page of the VMM's mapping is touched (see GuestMemory::WriteBacking),
  // and guest RAM never holds bytes that failed their check.
  // Grown to the largest record seen, not to the limit at once: a short
  // stream (a small snapshot) then never faults in 4 MiB it does not use.
  if (payload_.size() < h.length) payload_.resize(h.length);
  std::span<uint8_t> payload(payload_.data(), h.length);
  RETURN_IF_ERROR(channel_.ReadExact(payload.data(), payload.size()));
  Lap(mark, stats_.read_ms);
  stats_.pages_received += h.length / kPage;
  const bool intact = Crc32c(0, payload.data(), payload.size()) == h.payload_crc;
  Lap(mark, stats_.check_ms);
  if (intact) {
    RETURN_IF_ERROR(mem.WriteBacking(h.gpa, payload));
    Lap(mark, stats_.write_ms);
    torn_[region].Clear(first, end);
    return absl::OkStatus();
  }
  if (!(h.flags & kFlagLive)) {
    return Corrupt(absl::StrFormat("the pages record for guest [0x%x, +0x%x) failed its CRC32C check", h.gpa,
                                   h.length));
  }
  torn_[region].Set(first, end);  // sent again later, or the stream is refused at its end
  return absl::OkStatus();
}

void Receiver::Report(bool done, bool now) {
  if (!on_progress_) return;
  const absl::Time time = absl::Now();
  if (!done && !now && time - last_report_ < absl::Milliseconds(100)) return;
  last_report_ = time;
  // A stream may be longer than it said (bytes after END are never read)
  // or a file may grow while it is read: the bar's two ends hold anyway.
  const uint64_t read = channel_.bytes_read();
  const uint64_t shown = progress_total_ == 0 ? read : done ? progress_total_ : std::min(read, progress_total_);
  on_progress_({.done_bytes = shown,
                .total_bytes = progress_total_,
                .rounds = stats_.rounds,
                .memory_done = stage_past_memory_,
                .done = done});
}

absl::StatusOr<ReceiveStats> Receiver::Run() {
  Preamble preamble;
  RETURN_IF_ERROR(channel_.ReadExact(&preamble, sizeof(preamble)));
  RETURN_IF_ERROR(CheckPreamble(preamble, /*live=*/channel_.is_socket()));
  for (const memory::MappedRegion& r : target_.memory().Regions()) torn_.emplace_back(r.size / kPage);

  enum class Stage { kShape, kMemory, kState, kEnd, kDone } stage = Stage::kShape;
  while (stage != Stage::kDone) {
    RecordHeader h;
    RETURN_IF_ERROR(channel_.ReadExact(&h, sizeof(h)));
    if (!HeaderCrcOk(h)) {
      return Corrupt(absl::StrFormat("record header at byte %u failed its CRC32C check",
                                     channel_.bytes_read() - sizeof(h)));
    }
    const auto type = static_cast<RecordType>(h.type);
    auto out_of_order = [&] {
      return Corrupt(absl::StrCat("unexpected ", RecordTypeName(h.type), " record at byte ",
                                  channel_.bytes_read() - sizeof(h)));
    };
    switch (type) {
      case RecordType::kShape: {
        if (stage != Stage::kShape) return out_of_order();
        ASSIGN_OR_RETURN(std::vector<uint8_t> shape, ReadTree(h.length, h.payload_crc, "shape"));
        RETURN_IF_ERROR(target_.CheckShape(shape));
        stage = Stage::kMemory;
        break;
      }
      case RecordType::kPages:
      case RecordType::kZeroPages: {
        if (stage != Stage::kMemory) return out_of_order();
        RETURN_IF_ERROR(ReadPages(h));
        break;
      }
      case RecordType::kRoundEnd:
        if (stage != Stage::kMemory) return out_of_order();
        ++stats_.rounds;
        // Every record before it is in guest memory now; the source waits
        // for this before it pauses the guest, so the downtime does not
        // include draining the socket buffers (FORMAT.md, "Round sync").
        if (channel_.is_socket()) {
          RecordHeader sync = MakeHeader(RecordType::kRoundSync, 0, h.gpa, 0, 0);
          RETURN_IF_ERROR(channel_.Write(&sync, sizeof(sync)));
        }
        break;
      case RecordType::kMemoryEnd: {
        if (stage != Stage::kMemory) return out_of_order();
        for (size_t i = 0; i < torn_.size(); ++i) {
          if (uint64_t n = torn_[i].Count(); n > 0) {
            uint64_t first_page = 0;
            torn_[i].ForEachRun([&](uint64_t a, uint64_t) {
              if (first_page == 0) first_page = a + 1;
            });
            return Corrupt(absl::StrFormat(
                "%u pages failed their CRC32C check and were not sent again (first at guest 0x%x)", n,
                target_.memory().Regions()[i].gpa + (first_page - 1) * kPage));
          }
        }
        stage = Stage::kState;
        stage_past_memory_ = true;
        break;
      }
      case RecordType::kState: {
        if (stage != Stage::kState) return out_of_order();
        ASSIGN_OR_RETURN(std::vector<uint8_t> state, ReadTree(h.length, h.payload_crc, "state"));
        RETURN_IF_ERROR(target_.LoadState(state));
        stage = Stage::kEnd;
        break;
      }
      case RecordType::kEnd:
        if (stage != Stage::kEnd) return out_of_order();
        stage = Stage::kDone;
        break;
      default:
        return out_of_order();
    }
    // A round's end and the memory's end are reported at once: a reader
    // of the progress sees every round change, however short the round.
    Report(stage == Stage::kDone, type == RecordType::kRoundEnd || type == RecordType::kMemoryEnd);
  }
  stats_.bytes_received = channel_.bytes_read();
  LOG_INFO("migration: page records: %.1f ms reading, %.1f ms checking, %.1f ms writing into guest memory",
           stats_.read_ms, stats_.check_ms, stats_.write_ms);
  return stats_;
}

absl::Status Receiver::SendAck() {
  if (!channel_.is_socket()) return absl::OkStatus();
  RecordHeader h = MakeHeader(RecordType::kAck, 0, 0, 0, 0);
  return channel_.Write(&h, sizeof(h));
}

absl::Status Receiver::AwaitCommit(absl::Duration timeout) {
  if (!channel_.is_socket()) return absl::OkStatus();
  auto refuse = [&](const std::string& why) {
    return absl::DeadlineExceededError(absl::StrCat(
        why, " after this side acknowledged the state: the guest does not run here (the source keeps it paused, "
             "or resumes it)"));
  };
  // The whole wait is bounded, the rest of a record whose first bytes came
  // in time included: the channel's own io_timeout is longer (it covers
  // the source's silences by design) and must not stretch this one.
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(bool readable, channel_.WaitReadable(timeout));
  if (!readable) return refuse(absl::StrCat("no COMMIT from the source within ", absl::FormatDuration(timeout)));
  RecordHeader h;
  if (absl::Status st = channel_.ReadExactBy(&h, sizeof(h), deadline); !st.ok()) {
    return refuse(absl::StrCat("the source closed the connection without COMMIT (", st.message(), ")"));
  }
  if (!HeaderCrcOk(h) || h.type != static_cast<uint32_t>(RecordType::kCommit) || h.length != 0) {
    return refuse(absl::StrCat("the source sent ", HeaderCrcOk(h) ? RecordTypeName(h.type) : "a corrupt record",
                               " instead of COMMIT"));
  }
  // Decided: the guest runs here. The source stays paused until it reads
  // this; if it never does, its operator sees unknown-outcome and checks
  // here before resuming it there.
  RecordHeader committed = MakeHeader(RecordType::kCommitted, 0, 0, 0, 0);
  if (absl::Status st = channel_.Write(&committed, sizeof(committed)); !st.ok()) {
    LOG_ERROR("migration: could not confirm COMMIT to the source (%s); the guest runs here, and the source stays "
              "paused in unknown-outcome until its operator abandons it",
              std::string(st.message()));
  }
  return absl::OkStatus();
}

void Receiver::SendError(const absl::Status& status) {
  if (!channel_.is_socket()) return;
  std::string text(status.message().substr(0, kMaxErrorBytes));
  RecordHeader h = MakeHeader(RecordType::kError, 0, 0, text.size(), Crc32c(0, text.data(), text.size()));
  iovec iov[2] = {{&h, sizeof(h)}, {text.data(), text.size()}};
  (void)channel_.WriteAll(iov);
}

}  // namespace migration
