// SPDX-License-Identifier: MIT
// How guest RAM is backed on the host: a plain memfd (4 KiB pages), a memfd
// whose mapping asks for transparent huge pages (shmem THP), or a hugetlbfs
// memfd of 2 MiB pages. GuestMemory asks this file for its fd and mapping
// and keeps the backend's page size: the unit in which memory goes back to
// the host without breaking a huge page (the balloon discards whole ones).
//
// Trust boundary: the backend name is user input (--memory-backend); sizes
// come from the already validated RAM layout.
#ifndef MEMORY_MEMORY_BACKEND_H_
#define MEMORY_MEMORY_BACKEND_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/scoped_mmap.h"
#include "base/unique_fd.h"

namespace memory {

enum class MemoryBackend { kMemfd, kThp, kHugetlb };

inline constexpr uint64_t kHugePageSize = 2ull << 20;

// "memfd", "thp" or "hugetlb"; anything else is InvalidArgument naming it.
absl::StatusOr<MemoryBackend> ParseMemoryBackend(std::string_view name);
std::string_view MemoryBackendName(MemoryBackend backend);

// The host page size the backend is built of (and discards in, to keep
// huge pages whole): 4 KiB for memfd, 2 MiB for thp and hugetlb.
uint64_t BackingPageSize(MemoryBackend backend);

// What the host's shmem THP policy allows for a MADV_HUGEPAGE mapping: the
// 2 MiB size's own setting, or the global one when that says "inherit"
// (e.g. "never", "advise", "always", "within_size", "deny", "force";
// "unknown" without sysfs).
std::string ShmemThpSetting();
bool ShmemThpAllowsAdvisedHugePages(std::string_view setting);

// Free 2 MiB hugetlb pages on the host (0 when unknown).
uint64_t FreeHugetlbPages();

struct Backing {
  base::UniqueFd fd;
  base::ScopedMmap mapping;
};

// A memfd of `size` bytes (a multiple of BackingPageSize) mapped shared
// once. hugetlb reserves its pages at mapping time, so a host without
// enough free 2 MiB pages fails here with an error naming
// /proc/sys/vm/nr_hugepages rather than with SIGBUS on a later touch.
absl::StatusOr<Backing> CreateBacking(MemoryBackend backend, uint64_t size);

}  // namespace memory

#endif  // MEMORY_MEMORY_BACKEND_H_
