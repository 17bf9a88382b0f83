// SPDX-License-Identifier: MIT
#include "devices/block/direct_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace devices {
namespace {

// Where a file system reports no alignment (a kernel before statx's
// STATX_DIOALIGN): the largest block a common one asks for.
constexpr uint64_t kAssumedAlignment = 4096;

uint64_t AlignDown(uint64_t value, uint64_t align) { return value - value % align; }

// Walks the guest's iovecs front to back, copying to or from them.
class IovCursor {
 public:
  explicit IovCursor(std::span<const iovec> iov) : iov_(iov) {}
  void CopyOut(uint8_t* to, uint64_t n) {
    Walk(n, [&](uint8_t* seg, uint64_t take) { std::memcpy(to, seg, take), to += take; });
  }
  void CopyIn(const uint8_t* from, uint64_t n) {
    Walk(n, [&](uint8_t* seg, uint64_t take) { std::memcpy(seg, from, take), from += take; });
  }

 private:
  template <typename Fn>
  void Walk(uint64_t n, Fn fn) {
    while (n > 0 && index_ < iov_.size()) {
      const uint64_t take = std::min<uint64_t>(n, iov_[index_].iov_len - within_);
      fn(static_cast<uint8_t*>(iov_[index_].iov_base) + within_, take);
      n -= take;
      within_ += take;
      if (within_ == iov_[index_].iov_len) ++index_, within_ = 0;
    }
  }
  std::span<const iovec> iov_;
  size_t index_ = 0;
  uint64_t within_ = 0;
};

uint64_t TotalBytes(std::span<const iovec> iov) {
  uint64_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  return total;
}

}  // namespace

absl::StatusOr<DirectIoAlignment> ProbeDirectIo(int fd, const std::string& path) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "disk image %s is on tmpfs, which keeps every file in memory and has no direct I/O: drop ',direct' or move "
        "the image to a disk-backed file system",
        path));
  }
  DirectIoAlignment align;
  struct statx sx;
  struct stat st;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) != 0) {
    if (sx.stx_dio_offset_align == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the file system of disk image %s has no direct I/O (statx reports no O_DIRECT alignment): drop ',direct'",
          path));
    }
    align = {.memory = sx.stx_dio_mem_align, .offset = sx.stx_dio_offset_align};
  } else if (::fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
    int logical = 0;
    if (::ioctl(fd, BLKSSZGET, &logical) != 0 || logical <= 0) {
      return absl::ErrnoToStatus(errno, "logical block size of disk " + path);
    }
    align = {.memory = static_cast<uint64_t>(logical), .offset = static_cast<uint64_t>(logical)};
  } else {
    align = {.memory = kAssumedAlignment, .offset = kAssumedAlignment};
  }
  // The bounce buffer is page-aligned and kBufferBytes long: it serves
  // every alignment up to those.
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (align.memory == 0 || align.memory > page || align.offset > DirectIoBounce::kBufferBytes ||
      DirectIoBounce::kBufferBytes % align.offset != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "disk image %s asks for direct I/O alignment of %u bytes in memory and %u in the file, which this VMM does "
        "not serve: drop ',direct'",
        path, align.memory, align.offset));
  }
  return align;
}

bool FitsDirectIo(const DirectIoAlignment& align, uint64_t offset, std::span<const iovec> iov) {
  if (offset % align.offset != 0) return false;
  for (const iovec& v : iov) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % align.memory != 0 || v.iov_len % align.offset != 0) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<DirectIoBounce>> DirectIoBounce::Create(const DirectIoAlignment& align) {
  ASSIGN_OR_RETURN(base::ScopedMmap buffer,
                   base::ScopedMmap::Map(kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS));
  return std::unique_ptr<DirectIoBounce>(new DirectIoBounce(align, std::move(buffer)));
}

absl::Status DirectIoBounce::Read(uint64_t offset, std::span<const iovec> iov, const Transfer& read) {
  absl::MutexLock lock(&mu_);
  const uint64_t end = offset + TotalBytes(iov);
  IovCursor cursor(iov);
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t piece = AlignDown(pos, align_.offset);
    const uint64_t piece_end = std::min(piece + kBufferBytes, AlignDown(end + align_.offset - 1, align_.offset));
    const iovec whole = {buffer_.data(), piece_end - piece};
    RETURN_IF_ERROR(read(piece, {&whole, 1}));
    const uint64_t take = std::min(end, piece_end) - pos;
    cursor.CopyIn(buffer_.data() + (pos - piece), take);
    pos += take;
  }
  return absl::OkStatus();
}

absl::Status DirectIoBounce::Write(uint64_t offset, std::span<const iovec> iov, const Transfer& read,
                                   const Transfer& write) {
  absl::MutexLock lock(&mu_);
  const uint64_t end = offset + TotalBytes(iov);
  const uint64_t block = align_.offset;
  IovCursor cursor(iov);
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t piece = AlignDown(pos, block);
    const uint64_t piece_end = std::min(piece + kBufferBytes, AlignDown(end + block - 1, block));
    const uint64_t take = std::min(end, piece_end) - pos;
    // Only the first and the last block of the whole write can be partial.
    if (pos != piece) {
      const iovec first = {buffer_.data(), block};
      RETURN_IF_ERROR(read(piece, {&first, 1}));
    }
    if (pos + take != piece_end && (piece_end - block != piece || pos == piece)) {
      const iovec last = {buffer_.data() + (piece_end - block - piece), block};
      RETURN_IF_ERROR(read(piece_end - block, {&last, 1}));
    }
    cursor.CopyOut(buffer_.data() + (pos - piece), take);
    const iovec whole = {buffer_.data(), piece_end - piece};
    RETURN_IF_ERROR(write(piece, {&whole, 1}));
    pos += take;
  }
  return absl::OkStatus();
}

}  // namespace devices
