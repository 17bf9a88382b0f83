// SPDX-License-Identifier: MIT
// GuestMemory owns the guest's RAM: one memfd, mapped once into the VMM,
// split into regions at guest-physical addresses (see layout.h).
//
// Trust boundary: every address and length here may come from the guest.
// Each access is checked to lie entirely inside one region; anything else is
// OutOfRange and touches nothing. Host pointers leave this class only through
// Regions() (for KVM memory slots and bulk I/O).
#ifndef MEMORY_GUEST_MEMORY_H_
#define MEMORY_GUEST_MEMORY_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <span>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "base/scoped_mmap.h"
#include "base/unique_fd.h"
#include "memory/dirty_bitmap.h"
#include "memory/layout.h"
#include "memory/memory_backend.h"

namespace memory {

// A RAM region and where its bytes live on the host.
struct MappedRegion {
  Gpa gpa;
  uint64_t size;
  uint8_t* host;         // inside the one mapping
  uint64_t memfd_offset;  // where this region's bytes live in the memfd
  Gpa end() const { return gpa + size; }
  GpaRange range() const { return {gpa, size}; }
};

// A piece of a guest-physical range inside one RAM region: pages
// [first_page, first_page + pages) of region `region` (indices into
// GuestMemory::Regions()), the piece itself as `range`.
struct RegionPiece {
  size_t region;
  uint64_t first_page;
  GpaRange range;
  // Whole pages only: a page partly in the piece is left out.
  uint64_t pages() const { return range.length / kPageSize; }
};

class GuestMemory {
 public:
  // `backend` (memory_backend.h) decides the host pages; with thp and
  // hugetlb every region must start and end on a 2 MiB boundary.
  static absl::StatusOr<GuestMemory> Create(const std::vector<RamRegion>& regions,
                                            MemoryBackend backend = MemoryBackend::kMemfd);

  GuestMemory(GuestMemory&&) = default;
  GuestMemory& operator=(GuestMemory&&) = default;

  const std::vector<MappedRegion>& Regions() const { return regions_; }
  uint64_t TotalSize() const { return total_size_; }
  int memfd() const { return memfd_.get(); }
  MemoryBackend backend() const { return backend_; }
  // The host page size behind guest RAM: a Discard of whole, aligned pages
  // of this size gives memory back without splitting a huge page.
  uint64_t backing_page_size() const { return BackingPageSize(backend_); }

  // The region lookup everyone uses (the accessors below, the balloon, the
  // migrator): the index of the region holding `gpa`, none outside RAM.
  std::optional<size_t> RegionIndexOf(Gpa gpa) const;
  // The parts of `range` that are RAM, one per region it overlaps, in
  // address order (none for a range wholly outside RAM).
  std::vector<RegionPiece> RegionPieces(GpaRange range) const;

  // A host view of [gpa, gpa + length), which must lie in one region.
  absl::StatusOr<std::span<uint8_t>> Slice(Gpa gpa, uint64_t length) const;
  bool IsValidRange(Gpa gpa, uint64_t length) const { return Slice(gpa, length).ok(); }

  absl::Status ReadBytes(Gpa gpa, std::span<uint8_t> out) const;
  absl::Status WriteBytes(Gpa gpa, std::span<const uint8_t> data);

  template <typename T>
  absl::StatusOr<T> Read(Gpa gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    absl::Status st = ReadBytes(gpa, {reinterpret_cast<uint8_t*>(&value), sizeof(T)});
    if (!st.ok()) return st;
    return value;
  }
  template <typename T>
  absl::Status Write(Gpa gpa, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return WriteBytes(gpa, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

  // Bulk copies between guest RAM and a buffer through the memfd (pread /
  // pwrite), not through the VMM's mapping: the kernel copies through its
  // own mapping and the VMM's page tables are left alone. A page first
  // touched through the mapping costs a fault (and on hosts that shadow
  // page tables, like PVM's, a costly one); pages the VMM only moves
  // in bulk (migration) need none. Checked like ReadBytes/WriteBytes;
  // WriteBacking marks dirty pages like WriteBytes.
  absl::Status ReadBacking(Gpa gpa, std::span<uint8_t> out) const;
  absl::Status WriteBacking(Gpa gpa, std::span<const uint8_t> data);

  // Makes [gpa, gpa + length) (inside one region) read as zero: whole pages
  // are discarded, partial pages at the ends are written.
  absl::Status Zero(Gpa gpa, uint64_t length);


  // Gives [gpa, gpa + length) back to the host with one call; the pages
  // read as zero afterwards. Page-aligned, inside one region. With a huge
  // page backend only the whole huge pages inside the range go back; the
  // kernel zeroes the parts of others (shmem splits a THP, hugetlbfs
  // zeroes the partial page in place).
  absl::Status Discard(Gpa gpa, uint64_t length);

  // For devices that write guest RAM through a Slice (a disk read with
  // preadv straight into the guest's buffers): marks [gpa, gpa + length)
  // dirty as WriteBytes does. Call it before the write and again after it,
  // so a migrator that took the first mark before the write ended sends
  // the pages again. Out-of-range: OutOfRange, nothing marked.
  absl::Status MarkWritten(Gpa gpa, uint64_t length);

  // VMM-side dirty tracking for migration: while on, WriteBytes/Write and
  // Discard mark the pages they change. TakeDirtyPages(i) returns region
  // i's marks (bit p = page p of the region) and clears them.
  void SetDirtyTracking(bool on);
  std::vector<uint64_t> TakeDirtyPages(size_t region);

  // Whether the memfd has storage at [offset, offset + length) of region i
  // (SEEK_DATA/SEEK_HOLE; nothing is faulted in): the populated page runs
  // as [first, end) page indices within the region.
  std::vector<std::pair<uint64_t, uint64_t>> PopulatedPages(size_t region) const;

 private:
  struct DirtyTracking {
    std::atomic<bool> on{false};
    std::vector<DirtyBitmap> regions;
  };
  void MarkDirty(const MappedRegion& r, Gpa gpa, uint64_t length);

  GuestMemory(base::UniqueFd memfd, base::ScopedMmap mapping, std::vector<MappedRegion> regions,
              uint64_t total_size, MemoryBackend backend);
  const MappedRegion* FindRegion(Gpa gpa, uint64_t length) const;

  base::UniqueFd memfd_;
  base::ScopedMmap mapping_;
  std::vector<MappedRegion> regions_;
  uint64_t total_size_;
  MemoryBackend backend_;
  std::unique_ptr<DirtyTracking> dirty_;  // a pointer keeps GuestMemory movable
};

}  // namespace memory

#endif  // MEMORY_GUEST_MEMORY_H_
