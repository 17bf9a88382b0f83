// SPDX-License-Identifier: MIT
// WriteTracker: which pages of a range of this process's memory were
// written since the last look, seen from the host page tables rather than
// from KVM's dirty log.
//
// Why: on some KVM hosts (PVM, see migration/FORMAT.md) the dirty log misses
// guest writes. Every write that reaches guest RAM, by a vCPU through KVM's
// shadow or nested page tables, by the host kernel on the guest's behalf, or
// by the VMM itself, still needs a writable host PTE of the VMM's mapping.
// userfaultfd's asynchronous write-protect mode (Linux 6.7+) clears a
// page's protection on its first write without stopping the writer, and
// PAGEMAP_SCAN returns the written pages and protects them again in one
// atomic walk. KVM drops its own mappings when the host PTEs change (MMU
// notifiers), so vCPU writes fault through the protected PTEs too.
//
// Start() protects the whole range; each TakeWritten() returns what was
// written since the previous call (or Start) and re-protects exactly those
// pages. A page written while TakeWritten runs is in this take or the next.
// Destruction unregisters the range, which lifts every protection.
#ifndef MEMORY_WRITE_TRACKER_H_
#define MEMORY_WRITE_TRACKER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace memory {

class WriteTracker {
 public:
  // `base` and `size` must be page aligned: one mapping of this process.
  // Fails (Unimplemented) where the kernel lacks asynchronous write-protect
  // or PAGEMAP_SCAN, or userfaultfd is not permitted.
  static absl::StatusOr<std::unique_ptr<WriteTracker>> Start(uint8_t* base, uint64_t size);

  struct Token {  // only Start() constructs
   private:
    friend class WriteTracker;
    Token() = default;
  };
  WriteTracker(Token, base::UniqueFd uffd, base::UniqueFd pagemap, uint8_t* base, uint64_t size)
      : uffd_(std::move(uffd)), pagemap_(std::move(pagemap)), base_(base), size_(size) {}
  WriteTracker(const WriteTracker&) = delete;
  WriteTracker& operator=(const WriteTracker&) = delete;
  ~WriteTracker();

  // ORs into `bits` (bit p of word p/64 = page p counted from `start`) the
  // pages of [start, start + size) written since the last take, and
  // protects them again. The range must lie inside the tracked one.
  absl::Status TakeWritten(uint8_t* start, uint64_t size, std::vector<uint64_t>& bits);

 private:
  // Chunks of a take handed out to threads, and at most this many threads.
  static constexpr uint64_t kScanChunkBytes = 64ull << 20;
  static constexpr size_t kMaxScanThreads = 4;

  // One thread's part of a take: [from, to) of the range that starts at
  // `first` (bit 0 of `bits`).
  absl::Status ScanWritten(uint64_t first, uint64_t from, uint64_t to, std::vector<uint64_t>& bits);

  base::UniqueFd uffd_;
  base::UniqueFd pagemap_;  // /proc/self/pagemap, for PAGEMAP_SCAN
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace memory

#endif  // MEMORY_WRITE_TRACKER_H_
