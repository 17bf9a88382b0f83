// SPDX-License-Identifier: MIT
#include "memory/write_tracker.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "memory/layout.h"

namespace memory {
namespace {

// Debian 12's kernel headers (6.1) predate these; the values are the
// kernel's ABI (include/uapi/linux/userfaultfd.h and fs.h, Linux 6.7).
constexpr uint64_t kFeatureWpUnpopulated = 1ull << 13;
constexpr uint64_t kFeatureWpAsync = 1ull << 15;
constexpr uint64_t kPageIsWritten = 1ull << 1;
constexpr uint64_t kScanWpMatching = 1ull << 0;
constexpr uint64_t kScanCheckWpAsync = 1ull << 1;

struct PageRegion {
  uint64_t start;
  uint64_t end;
  uint64_t categories;
};
struct PmScanArg {
  uint64_t size;
  uint64_t flags;
  uint64_t start;
  uint64_t end;
  uint64_t walk_end;
  uint64_t vec;
  uint64_t vec_len;
  uint64_t max_pages;
  uint64_t category_inverted;
  uint64_t category_mask;
  uint64_t category_anyof_mask;
  uint64_t return_mask;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);

// A PAGEMAP_SCAN of [start, end) for written pages into `vec`; with
// kScanWpMatching it also protects them again.
PmScanArg WrittenPagesScan(uint64_t start, uint64_t end, PageRegion* vec, uint64_t vec_len, uint64_t flags) {
  return {.size = sizeof(PmScanArg),
          .flags = flags,
          .start = start,
          .end = end,
          .walk_end = 0,
          .vec = reinterpret_cast<uint64_t>(vec),
          .vec_len = vec_len,
          .max_pages = 0,
          .category_inverted = 0,
          .category_mask = kPageIsWritten,
          .category_anyof_mask = 0,
          .return_mask = kPageIsWritten};
}
constexpr unsigned long kUserfaultfdIocNew = _IO(0xAA, 0x00);

base::UniqueFd OpenUserfaultfd() {
  // Kernel-mode faults must be trapped too (KVM and the host kernel write
  // guest RAM), so no UFFD_USER_MODE_ONLY; that needs privilege, which the
  // syscall or /dev/userfaultfd grants.
  base::UniqueFd fd(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (fd.valid()) return fd;
  base::UniqueFd dev(::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
  if (!dev.valid()) return fd;
  return base::UniqueFd(::ioctl(dev.get(), kUserfaultfdIocNew, O_CLOEXEC | O_NONBLOCK));
}

}  // namespace

absl::StatusOr<std::unique_ptr<WriteTracker>> WriteTracker::Start(uint8_t* base, uint64_t size) {
  const auto addr = reinterpret_cast<uint64_t>(base);
  if (addr % kPageSize != 0 || size % kPageSize != 0 || size == 0) {
    return absl::InvalidArgumentError("write tracking needs a page-aligned range");
  }
  base::UniqueFd uffd = OpenUserfaultfd();
  if (!uffd.valid()) return absl::UnimplementedError(absl::StrFormat("userfaultfd: %s", strerror(errno)));
  uffdio_api api{.api = UFFD_API,
                 .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
                             kFeatureWpUnpopulated | kFeatureWpAsync,
                 .ioctls = 0};
  if (::ioctl(uffd.get(), UFFDIO_API, &api) != 0) {
    return absl::UnimplementedError(
        absl::StrFormat("this kernel has no asynchronous userfaultfd write-protect for shared memory: %s",
                        strerror(errno)));
  }
  uffdio_register reg{.range = {.start = addr, .len = size}, .mode = UFFDIO_REGISTER_MODE_WP, .ioctls = 0};
  if (::ioctl(uffd.get(), UFFDIO_REGISTER, &reg) != 0) {
    return absl::UnimplementedError(absl::StrFormat("userfaultfd register: %s", strerror(errno)));
  }
  base::UniqueFd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pagemap.valid()) return absl::ErrnoToStatus(errno, "open /proc/self/pagemap");
  // From here on the destructor unregisters, whatever fails below.
  auto tracker = std::make_unique<WriteTracker>(Token(), std::move(uffd), std::move(pagemap), base, size);
  uffdio_writeprotect wp{.range = {.start = addr, .len = size}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
  if (::ioctl(tracker->uffd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {
    return absl::ErrnoToStatus(errno, "userfaultfd write-protect");
  }
  // A probe that only looks (no re-protect, so no write is lost): kernels
  // before 6.7 have no PAGEMAP_SCAN (ENOTTY).
  PageRegion region;
  PmScanArg probe = WrittenPagesScan(addr, addr + kPageSize, &region, 1, 0);
  if (::ioctl(tracker->pagemap_.get(), kPagemapScan, &probe) < 0) {
    return absl::UnimplementedError(absl::StrFormat("PAGEMAP_SCAN: %s", strerror(errno)));
  }
  return tracker;
}

WriteTracker::~WriteTracker() {
  uffdio_range range{.start = reinterpret_cast<uint64_t>(base_), .len = size_};
  (void)::ioctl(uffd_.get(), UFFDIO_UNREGISTER, &range);
}

absl::Status WriteTracker::ScanWritten(uint64_t first, uint64_t from, uint64_t to, std::vector<uint64_t>& bits) {
  // Written pages come back as merged ranges, so a modest vector covers a
  // lot; a full vector just means another call from where the walk stopped.
  PageRegion regions[512];
  uint64_t at = from;
  while (at < to) {
    PmScanArg arg = WrittenPagesScan(at, to, regions, std::size(regions), kScanWpMatching | kScanCheckWpAsync);
    const int n = ::ioctl(pagemap_.get(), kPagemapScan, &arg);
    if (n < 0) return absl::ErrnoToStatus(errno, "PAGEMAP_SCAN");
    for (int k = 0; k < n; ++k) {
      for (uint64_t p = (regions[k].start - first) / kPageSize; p < (regions[k].end - first) / kPageSize; ++p) {
        bits[p / 64] |= 1ull << (p % 64);
      }
    }
    if (arg.walk_end <= at) break;  // no progress: nothing more to report
    at = arg.walk_end;
  }
  return absl::OkStatus();
}

absl::Status WriteTracker::TakeWritten(uint8_t* start, uint64_t size, std::vector<uint64_t>& bits) {
  if (start < base_ || size > size_ || start - base_ > static_cast<ptrdiff_t>(size_ - size)) {
    return absl::OutOfRangeError("write tracker: range outside the tracked mapping");
  }
  const auto first = reinterpret_cast<uint64_t>(start);
  const uint64_t pages = size / kPageSize;
  if (bits.size() < (pages + 63) / 64) bits.resize((pages + 63) / 64);
  if (pages == 0) return absl::OkStatus();
  // The walk reads every present page table entry of the range, so its
  // cost grows with populated memory, and the take while the guest is
  // paused is part of its downtime. Walks of disjoint ranges run in parallel (the
  // mmap lock is shared), so chunks go out to the cores the paused vCPUs
  // leave idle. A chunk is a multiple of 64 pages: each thread ORs into
  // words of `bits` no other thread touches.
  const uint64_t chunks = (size + kScanChunkBytes - 1) / kScanChunkBytes;
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1,
                                            std::min<uint64_t>(chunks, kMaxScanThreads));
  std::atomic<uint64_t> next{0};
  std::vector<absl::Status> results(threads);
  auto scan = [&](size_t t) {
    for (uint64_t c = next.fetch_add(1); c < chunks && results[t].ok(); c = next.fetch_add(1)) {
      const uint64_t from = first + c * kScanChunkBytes;
      results[t] = ScanWritten(first, from, std::min(first + size, from + kScanChunkBytes), bits);
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(scan, t);
  scan(0);
  for (std::thread& h : helpers) h.join();
  for (const absl::Status& st : results) RETURN_IF_ERROR(st);
  return absl::OkStatus();
}

}  // namespace memory
