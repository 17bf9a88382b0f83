// SPDX-License-Identifier: MIT
#include "memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace memory {
namespace {
// Below this a write touches only a few pages; not worth a syscall.
constexpr uint64_t kBulkThreshold = 64 * 1024;

// Repeats a pread/pwrite-like step (given the bytes done so far) until
// `size` bytes are through; short transfers and EINTR are retried.
template <typename Step>
absl::Status WholeTransfer(uint64_t size, const char* what, Step step) {
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = step(done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ErrnoToStatus(n < 0 ? errno : EIO, what);
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}
// The copies between guest RAM and the VMM's buffers, each alone in a
// function so that ThreadSanitizer's suppressions (scripts/tsan.supp) can
// name them and nothing else: guest RAM is shared on purpose with another
// party (the guest, or in tests a driver on another thread), and the order
// of those accesses is the virtqueue's fences, which TSan does not model.
void CopyOutOfGuestRam(void* out, const void* guest, size_t size) { std::memcpy(out, guest, size); }
void CopyIntoGuestRam(void* guest, const void* data, size_t size) { std::memcpy(guest, data, size); }

}  // namespace

absl::StatusOr<GuestMemory> GuestMemory::Create(const std::vector<RamRegion>& regions, MemoryBackend backend) {
  const uint64_t host_page = BackingPageSize(backend);
  uint64_t total = 0;
  for (const RamRegion& r : regions) {
    if (r.length == 0 || r.length % kPageSize != 0 || r.start % kPageSize != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("RAM region at 0x%x of 0x%x bytes is not page aligned", r.start, r.length));
    }
    // Huge pages must line up in guest-physical and memfd offsets alike, so
    // that a 2 MiB-aligned guest range is one whole host page.
    if (r.length % host_page != 0 || r.start % host_page != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "RAM region at 0x%x of 0x%x bytes is not aligned to the %s backend's 2 MiB pages", r.start, r.length,
          std::string(MemoryBackendName(backend))));
    }
    total += r.length;
  }
  if (total == 0) return absl::InvalidArgumentError("guest memory size is zero");

  ASSIGN_OR_RETURN(Backing backing, CreateBacking(backend, total));
  std::vector<MappedRegion> mapped;
  uint64_t offset = 0;
  for (const RamRegion& r : regions) {
    mapped.push_back({r.start, r.length, backing.mapping.data() + offset, offset});
    offset += r.length;
  }
  return GuestMemory(std::move(backing.fd), std::move(backing.mapping), std::move(mapped), total, backend);
}

GuestMemory::GuestMemory(base::UniqueFd memfd, base::ScopedMmap mapping, std::vector<MappedRegion> regions,
                         uint64_t total_size, MemoryBackend backend)
    : memfd_(std::move(memfd)),
      mapping_(std::move(mapping)),
      regions_(std::move(regions)),
      total_size_(total_size),
      backend_(backend),
      dirty_(std::make_unique<DirtyTracking>()) {
  for (const MappedRegion& r : regions_) dirty_->regions.emplace_back(r.size / kPageSize);
}

void GuestMemory::SetDirtyTracking(bool on) { dirty_->on.store(on, std::memory_order_seq_cst); }

std::vector<uint64_t> GuestMemory::TakeDirtyPages(size_t region) {
  if (region >= dirty_->regions.size()) return {};
  return dirty_->regions[region].Take();
}

void GuestMemory::MarkDirty(const MappedRegion& r, Gpa gpa, uint64_t length) {
  if (length == 0 || !dirty_->on.load(std::memory_order_seq_cst)) return;
  const size_t index = static_cast<size_t>(&r - regions_.data());
  const uint64_t first = (gpa - r.gpa) / kPageSize;
  const uint64_t last = (gpa - r.gpa + length - 1) / kPageSize;
  dirty_->regions[index].Set(first, last - first + 1);
}

std::vector<std::pair<uint64_t, uint64_t>> GuestMemory::PopulatedPages(size_t region) const {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  if (region >= regions_.size()) return runs;
  const MappedRegion& r = regions_[region];
  const off_t start = static_cast<off_t>(r.memfd_offset);
  const off_t end = static_cast<off_t>(r.memfd_offset + r.size);
  off_t pos = start;
  while (pos < end) {
    off_t data = ::lseek(memfd_.get(), pos, SEEK_DATA);
    if (data < 0 || data >= end) break;  // ENXIO: no data after pos
    off_t hole = ::lseek(memfd_.get(), data, SEEK_HOLE);
    if (hole < 0 || hole > end) hole = end;
    // Round outwards to whole pages: a partly backed page counts as populated.
    uint64_t first = static_cast<uint64_t>(data - start) / kPageSize;
    uint64_t last = (static_cast<uint64_t>(hole - start) + kPageSize - 1) / kPageSize;
    if (!runs.empty() && runs.back().second >= first) {
      runs.back().second = std::max(runs.back().second, last);
    } else {
      runs.emplace_back(first, last);
    }
    pos = hole;
  }
  return runs;
}

std::optional<size_t> GuestMemory::RegionIndexOf(Gpa gpa) const {
  for (size_t i = 0; i < regions_.size(); ++i) {
    if (regions_[i].range().Contains(gpa)) return i;
  }
  return std::nullopt;
}

std::vector<RegionPiece> GuestMemory::RegionPieces(GpaRange range) const {
  std::vector<RegionPiece> pieces;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const GpaRange piece = range.Overlap(regions_[i].range());
    if (!piece.empty()) pieces.push_back({i, (piece.start - regions_[i].gpa) / kPageSize, piece});
  }
  return pieces;
}

const MappedRegion* GuestMemory::FindRegion(Gpa gpa, uint64_t length) const {
  const std::optional<size_t> index = RegionIndexOf(gpa);
  if (!index) return nullptr;
  const MappedRegion& r = regions_[*index];
  // No sum can overflow: gpa - r.gpa < r.size.
  return length <= r.size - (gpa - r.gpa) ? &r : nullptr;
}

absl::StatusOr<std::span<uint8_t>> GuestMemory::Slice(Gpa gpa, uint64_t length) const {
  const MappedRegion* r = FindRegion(gpa, length);
  if (r == nullptr) {
    return absl::OutOfRangeError(
        absl::StrFormat("guest range [0x%x, +0x%x) is not inside guest RAM", gpa, length));
  }
  return std::span<uint8_t>(r->host + (gpa - r->gpa), length);
}

absl::Status GuestMemory::MarkWritten(Gpa gpa, uint64_t length) {
  const MappedRegion* r = FindRegion(gpa, length);
  if (r == nullptr) return Slice(gpa, length).status();
  MarkDirty(*r, gpa, length);
  return absl::OkStatus();
}

absl::Status GuestMemory::ReadBytes(Gpa gpa, std::span<uint8_t> out) const {
  auto slice = Slice(gpa, out.size());
  if (!slice.ok()) return slice.status();
  // An empty span (a guest's zero-length buffer) may have a null pointer,
  // which memcpy must not see even for 0 bytes.
  if (out.empty()) return absl::OkStatus();
  CopyOutOfGuestRam(out.data(), slice->data(), out.size());
  return absl::OkStatus();
}

absl::Status GuestMemory::WriteBytes(Gpa gpa, std::span<const uint8_t> data) {
  auto slice = Slice(gpa, data.size());
  if (!slice.ok()) return slice.status();
  if (data.empty()) return absl::OkStatus();  // as in ReadBytes
  // Bulk writes (kernel, initrd) go through the memfd: the pages then need
  // no fault in the VMM's mapping, which the guest never uses.
  if (data.size() >= kBulkThreshold) return WriteBacking(gpa, data);
  const MappedRegion* r = FindRegion(gpa, data.size());
  // Marked before the copy too, as KVM marks a page before a vCPU's write
  // lands: a migrator that sees the content change finds the mark in its
  // next take (migration/FORMAT.md, "Verified final pass").
  if (r != nullptr) MarkDirty(*r, gpa, data.size());
  CopyIntoGuestRam(slice->data(), data.data(), data.size());
  // And after: a migrator that took the first mark before the copy ended
  // sends the page again in the next round.
  if (r != nullptr) MarkDirty(*r, gpa, data.size());
  return absl::OkStatus();
}

absl::Status GuestMemory::ReadBacking(Gpa gpa, std::span<uint8_t> out) const {
  const MappedRegion* r = FindRegion(gpa, out.size());
  if (r == nullptr) return Slice(gpa, out.size()).status();
  const off_t offset = static_cast<off_t>(r->memfd_offset + (gpa - r->gpa));
  return WholeTransfer(out.size(), "pread of guest RAM", [&](uint64_t done) {
    return ::pread(memfd_.get(), out.data() + done, out.size() - done, offset + static_cast<off_t>(done));
  });
}

absl::Status GuestMemory::WriteBacking(Gpa gpa, std::span<const uint8_t> data) {
  const MappedRegion* r = FindRegion(gpa, data.size());
  if (r == nullptr) return Slice(gpa, data.size()).status();
  if (data.empty()) return absl::OkStatus();
  MarkDirty(*r, gpa, data.size());  // before and after, as in WriteBytes
  if (backend_ != MemoryBackend::kMemfd) {
    // hugetlbfs has no write(); shmem gives huge pages to faults in a
    // MADV_HUGEPAGE mapping but not to write() under the usual "advise"
    // policy. One fault per 2 MiB page costs little either way.
    CopyIntoGuestRam(r->host + (gpa - r->gpa), data.data(), data.size());
    MarkDirty(*r, gpa, data.size());
    return absl::OkStatus();
  }
  const off_t offset = static_cast<off_t>(r->memfd_offset + (gpa - r->gpa));
  absl::Status st = WholeTransfer(data.size(), "pwrite of guest RAM", [&](uint64_t done) {
    return ::pwrite(memfd_.get(), data.data() + done, data.size() - done, offset + static_cast<off_t>(done));
  });
  MarkDirty(*r, gpa, data.size());
  return st;
}

absl::Status GuestMemory::Zero(Gpa gpa, uint64_t length) {
  if (!IsValidRange(gpa, length)) return Slice(gpa, length).status();
  const Gpa first_page = (gpa + kPageSize - 1) & ~(kPageSize - 1);
  const Gpa end_page = (gpa + length) & ~(kPageSize - 1);
  if (first_page >= end_page) {
    std::vector<uint8_t> zeros(length);
    return WriteBytes(gpa, zeros);
  }
  std::vector<uint8_t> zeros(kPageSize);
  if (gpa < first_page) RETURN_IF_ERROR(WriteBytes(gpa, {zeros.data(), first_page - gpa}));
  RETURN_IF_ERROR(Discard(first_page, end_page - first_page));
  if (end_page < gpa + length) RETURN_IF_ERROR(WriteBytes(end_page, {zeros.data(), gpa + length - end_page}));
  return absl::OkStatus();
}

absl::Status GuestMemory::Discard(Gpa gpa, uint64_t length) {
  if (gpa % kPageSize != 0 || length % kPageSize != 0 || length == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("discard [0x%x, +0x%x) is not page aligned", gpa, length));
  }
  const MappedRegion* r = FindRegion(gpa, length);
  if (r == nullptr) {
    return absl::OutOfRangeError(
        absl::StrFormat("discard [0x%x, +0x%x) is not inside guest RAM", gpa, length));
  }
  // Punching the hole in the memfd frees the pages for every mapping of it
  // (ours and KVM's), which MADV_DONTNEED on a shared mapping would not.
  off_t offset = static_cast<off_t>(r->memfd_offset + (gpa - r->gpa));
  MarkDirty(*r, gpa, length);  // before and after, as in WriteBytes
  if (::fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                  static_cast<off_t>(length)) != 0) {
    return absl::ErrnoToStatus(errno, "fallocate(PUNCH_HOLE) of guest RAM");
  }
  MarkDirty(*r, gpa, length);
  return absl::OkStatus();
}

}  // namespace memory
