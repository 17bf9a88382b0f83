// SPDX-License-Identifier: MIT
#include "migration/record_writer.h"

#include <sys/uio.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "migration/crc32c.h"
#include "migration/guest_pages.h"

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;
constexpr uint64_t kPagesPerRecord = RecordWriter::kPagesPerRecord;
// A writev batch: about this many bytes (or IOV_MAX iovecs).
constexpr uint64_t kBatchBytes = 8ull << 20;

// Collects the records of up to one chunk after another for one writev.
// A chunk is at most kPagesPerRecord pages and never straddles a flush, so
// the records of a chunk may point into the chunk's bounce copy.
class Batch {
 public:
  // `bounce` is the copy space, kept by the caller across batches.
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

absl::Status RecordWriter::WritePreamble() {
  const Preamble p = MakePreamble();
  return channel_.Write(&p, sizeof(p));
}

absl::Status RecordWriter::WriteRecord(RecordType type, uint64_t gpa, std::span<const uint8_t> payload) {
  RecordHeader h = MakeHeader(type, 0, gpa, payload.size(), Crc32c(0, payload.data(), payload.size()));
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<uint8_t*>(payload.data()), payload.size()}};
  return channel_.WriteAll({iov, payload.empty() ? 1u : 2u});
}

void RecordWriter::RestartCap() {
  cap_start_ = absl::Now();
  cap_bytes_ = 0;
}

void RecordWriter::KeepToCap() {
  if (options_.bandwidth_bytes_per_s == 0) return;
  const absl::Duration due = absl::Seconds(static_cast<double>(cap_bytes_) / options_.bandwidth_bytes_per_s);
  const absl::Duration ahead = due - (absl::Now() - cap_start_);
  if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
}

absl::Status RecordWriter::SendPages(const std::vector<PageSet>& sets, bool live, const PageObserver& observe) {
  const std::vector<memory::MappedRegion>& regions = mem_.Regions();
  // With read_through_memfd, pages go from a copy read through the memfd,
  // which is exactly what the record carries (and what an observer sees,
  // even if the guest writes the page meanwhile), and which leaves the
  // VMM's page tables alone (GuestMemory::ReadBacking); otherwise straight
  // from guest memory.
  const bool bounce = options_.read_through_memfd;
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
      if (observe) {
        for (uint64_t q = k; q < run; ++q) observe(i, p + q, data + q * kPage, zero);
      }
      const uint64_t length = (run - k) * kPage;
      if (zero) {
        batch.Add(MakeHeader(RecordType::kZeroPages, flags, r.gpa + (p + k) * kPage, length, 0), nullptr, 0);
        zero_pages_ += run - k;
      } else {
        const uint8_t* payload = data + k * kPage;
        batch.Add(MakeHeader(RecordType::kPages, flags, r.gpa + (p + k) * kPage, length, Crc32c(0, payload, length)),
                  payload, length);
        pages_sent_ += run - k;
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
          status = mem_.ReadBacking(r.gpa + p * kPage, {copy, n * kPage});
          if (!status.ok()) break;
          data = copy;
        }
        add_chunk(i, p, n, data);
        p += n;
        if (batch.Full()) {
          status = batch.Flush();
          KeepToCap();
          if (on_batch_) on_batch_();
        }
      }
    });
  }
  if (status.ok()) status = batch.Flush();
  return status;
}

}  // namespace migration
