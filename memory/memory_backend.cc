// SPDX-License-Identifier: MIT
#include "memory/memory_backend.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/logging.h"

namespace memory {
namespace {

constexpr char kThpDir[] = "/sys/kernel/mm/transparent_hugepage";

// The bracketed word of a sysfs policy file ("always [madvise] never").
std::string SelectedWord(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return "";
  const size_t open = line.find('[');
  const size_t close = line.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

}  // namespace

absl::StatusOr<MemoryBackend> ParseMemoryBackend(std::string_view name) {
  if (name == "memfd") return MemoryBackend::kMemfd;
  if (name == "thp") return MemoryBackend::kThp;
  if (name == "hugetlb") return MemoryBackend::kHugetlb;
  return absl::InvalidArgumentError(
      absl::StrCat("--memory-backend must be 'memfd', 'thp' or 'hugetlb', not '", std::string(name), "'"));
}

std::string_view MemoryBackendName(MemoryBackend backend) {
  switch (backend) {
    case MemoryBackend::kMemfd: return "memfd";
    case MemoryBackend::kThp: return "thp";
    case MemoryBackend::kHugetlb: return "hugetlb";
  }
  return "?";
}

uint64_t BackingPageSize(MemoryBackend backend) {
  return backend == MemoryBackend::kMemfd ? 4096 : kHugePageSize;
}

std::string ShmemThpSetting() {
  std::string per_size = SelectedWord(absl::StrCat(kThpDir, "/hugepages-2048kB/shmem_enabled"));
  if (!per_size.empty() && per_size != "inherit") return per_size;
  std::string global = SelectedWord(absl::StrCat(kThpDir, "/shmem_enabled"));
  return global.empty() ? "unknown" : global;
}

bool ShmemThpAllowsAdvisedHugePages(std::string_view setting) {
  return setting == "advise" || setting == "always" || setting == "within_size" || setting == "force";
}

uint64_t FreeHugetlbPages() {
  std::ifstream in("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  uint64_t pages = 0;
  in >> pages;
  return in ? pages : 0;
}

absl::StatusOr<Backing> CreateBacking(MemoryBackend backend, uint64_t size) {
  const uint64_t page = BackingPageSize(backend);
  if (size == 0 || size % page != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest RAM of 0x%x bytes is not a multiple of the %s backend's %u KiB pages", size,
        std::string(MemoryBackendName(backend)), page >> 10));
  }
  unsigned flags = MFD_CLOEXEC;
  if (backend == MemoryBackend::kHugetlb) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
  Backing b;
  b.fd = base::UniqueFd(::memfd_create("guest-ram", flags));
  if (!b.fd.valid()) {
    return absl::ErrnoToStatus(errno, backend == MemoryBackend::kHugetlb ? "memfd_create(MFD_HUGETLB)"
                                                                         : "memfd_create");
  }
  if (::ftruncate(b.fd.get(), static_cast<off_t>(size)) != 0) {
    return absl::ErrnoToStatus(errno, "ftruncate of guest RAM memfd");
  }
  // memfd and thp: MAP_NORESERVE, RAM is populated on first touch and an
  // idle guest costs only what it used. hugetlb: no MAP_NORESERVE, so the
  // kernel reserves every huge page now; a shortfall is an error at start,
  // not a SIGBUS when the guest first touches a page with none left.
  const int map_flags = MAP_SHARED | (backend == MemoryBackend::kHugetlb ? 0 : MAP_NORESERVE);
  auto mapping = base::ScopedMmap::Map(size, PROT_READ | PROT_WRITE, map_flags, b.fd.get(), 0);
  if (!mapping.ok()) {
    if (backend == MemoryBackend::kHugetlb) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "--memory-backend hugetlb: cannot reserve %u 2 MiB huge pages for %u MiB of guest RAM; the host "
          "has %u free (reserve more with: echo N > /proc/sys/vm/nr_hugepages)",
          size / page, size >> 20, FreeHugetlbPages()));
    }
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cannot map %u MiB of guest RAM: %s", size >> 20, mapping.status().message()));
  }
  b.mapping = std::move(*mapping);
  if (backend == MemoryBackend::kThp) {
    if (::madvise(b.mapping.data(), size, MADV_HUGEPAGE) != 0) {
      return absl::ErrnoToStatus(errno, "madvise(MADV_HUGEPAGE) of guest RAM");
    }
    // The advice only counts where the host's shmem policy lets it: say
    // once what this host does, so a user knows whether pages will be huge.
    const std::string setting = ShmemThpSetting();
    if (ShmemThpAllowsAdvisedHugePages(setting)) {
      LOG_INFO("memory backend thp: shmem THP is '%s': guest RAM gets 2 MiB pages where the host has them",
               setting);
    } else {
      LOG_WARNING(
          "memory backend thp: shmem THP is '%s' on this host, so guest RAM stays in 4 KiB pages; set "
          "%s/shmem_enabled (or hugepages-2048kB/shmem_enabled) to 'advise' for huge pages",
          setting, kThpDir);
    }
  }
  return b;
}

}  // namespace memory
