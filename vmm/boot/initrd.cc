// SPDX-License-Identifier: MIT
#include "vmm/boot/initrd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "vmm/boot/bzimage.h"

namespace vmm::boot {
namespace {

// Bytes read from the initrd file per step.
constexpr uint64_t kChunkBytes = 1 << 20;

// 2.03 is the first protocol version with initrd_addr_max.
constexpr uint16_t kInitrdAddrMaxProtocol = 0x0203;

uint64_t AlignUp(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }
uint64_t AlignDown(uint64_t value, uint64_t align) { return value & ~(align - 1); }

absl::Status ReadAll(int fd, std::span<uint8_t> out, const std::string& name) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("initrd ", name, ": read failed"));
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat("initrd ", name, ": file shrank while it was being read"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t InitrdAddrMax(const std::optional<std::vector<uint8_t>>& header_bytes) {
  if (!header_bytes.has_value()) return kDefaultInitrdAddrMax;
  setup_header hdr = SetupHeaderFromBytes(*header_bytes);
  if (hdr.version < kInitrdAddrMaxProtocol || hdr.initrd_addr_max == 0) {
    return kDefaultInitrdAddrMax;
  }
  return hdr.initrd_addr_max;
}

absl::StatusOr<InitrdPlacement> LoadInitrd(absl::string_view path, memory::GuestMemory& mem,
                                           uint64_t initrd_addr_max, uint64_t kernel_end) {
  std::string name(path);
  base::UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("initrd ", name));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("initrd ", name));
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("initrd ", name, ": not a regular file"));
  }
  if (st.st_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("initrd ", name, ": file is empty"));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);

  // The RAM region holding 1 MiB is where the kernel lives and the one every
  // boot protocol version can address.
  const memory::MappedRegion* low = nullptr;
  for (const memory::MappedRegion& r : mem.Regions()) {
    if (r.gpa <= memory::kHighMemoryStart && memory::kHighMemoryStart < r.end()) low = &r;
  }
  if (low == nullptr) {
    return absl::FailedPreconditionError("guest RAM has no region above 1 MiB for the initrd");
  }
  // initrd_addr_max is the last usable byte; +1 cannot overflow as it came
  // from a 32-bit field or is a small constant, but clamp it anyway.
  uint64_t limit = std::min(low->end(), std::min(initrd_addr_max, memory::kMmioHoleStart - 1) + 1);
  uint64_t floor = AlignUp(std::max(kernel_end, memory::kHighMemoryStart), memory::kPageSize);
  if (size > limit || AlignDown(limit - size, memory::kPageSize) < floor) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "initrd %s (%u MiB) does not fit between the kernel's end (0x%x) and 0x%x; give the "
        "guest more memory",
        name, (size + memory::kMiB - 1) / memory::kMiB, floor, limit));
  }
  uint64_t gpa = AlignDown(limit - size, memory::kPageSize);
  // In chunks through a small buffer into the memfd (GuestMemory::WriteBytes
  // takes the bulk path): an initramfs can be hundreds of MiB, and the VMM
  // itself never needs those pages mapped.
  std::vector<uint8_t> chunk(std::min<uint64_t>(size, kChunkBytes));
  for (uint64_t done = 0; done < size; done += chunk.size()) {
    std::span<uint8_t> piece(chunk.data(), std::min<uint64_t>(chunk.size(), size - done));
    RETURN_IF_ERROR(ReadAll(fd.get(), piece, name));
    RETURN_IF_ERROR(mem.WriteBytes(gpa + done, piece));
  }
  LOG_DEBUG("initrd %s: %u bytes at 0x%x", name, size, gpa);
  return InitrdPlacement{.gpa = gpa, .size = size};
}

}  // namespace vmm::boot
