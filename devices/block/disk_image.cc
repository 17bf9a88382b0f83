// SPDX-License-Identifier: MIT
#include "devices/block/disk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace devices {
namespace {

// Advances `iov` past `done` bytes, dropping the iovecs fully used.
void Advance(std::vector<iovec>& iov, size_t& first, uint64_t done) {
  while (done > 0 && first < iov.size()) {
    const uint64_t take = std::min<uint64_t>(done, iov[first].iov_len);
    iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + take;
    iov[first].iov_len -= take;
    done -= take;
    if (iov[first].iov_len == 0) ++first;
  }
  while (first < iov.size() && iov[first].iov_len == 0) ++first;
}

// Calls `io(iov, count, offset)` until every byte moved; 0 bytes moved is
// the end of the file.
template <typename Io>
absl::Status WholeVectorTransfer(std::span<const iovec> in, uint64_t offset, const char* what,
                                 const std::string& path, Io io) {
  std::vector<iovec> iov(in.begin(), in.end());
  size_t first = 0;
  Advance(iov, first, 0);
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = io(iov.data() + first, count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrFormat("%s of disk image %s at %u", what, path, offset));
    }
    if (n == 0) {
      return absl::OutOfRangeError(absl::StrFormat("%s of disk image %s at %u: end of file", what, path, offset));
    }
    offset += static_cast<uint64_t>(n);
    Advance(iov, first, static_cast<uint64_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DiskImage> DiskImage::Open(const DiskImageOptions& options) {
  const int flags = (options.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (options.direct ? O_DIRECT : 0);
  base::UniqueFd fd(::open(options.path.c_str(), flags));
  if (!fd.valid() && options.direct && errno == EINVAL) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the file system of disk image %s refuses O_DIRECT (asked for by ',direct'): drop ',direct' or move the image",
        options.path));
  }
  if (!fd.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("cannot open disk image %s%s", options.path,
                                                      options.readonly ? " (readonly)" : ""));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, "fstat of disk image " + options.path);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("disk image %s is neither a regular file nor a block device", options.path));
  }
  const off_t end = ::lseek(fd.get(), 0, SEEK_END);
  if (end < 0) return absl::ErrnoToStatus(errno, "size of disk image " + options.path);
  if (end < 512) {
    return absl::InvalidArgumentError(
        absl::StrFormat("disk image %s holds %d bytes, less than one 512-byte sector", options.path, end));
  }
  std::unique_ptr<DirectIoBounce> bounce;
  if (options.direct) {
    ASSIGN_OR_RETURN(DirectIoAlignment align, ProbeDirectIo(fd.get(), options.path));
    if (static_cast<uint64_t>(end) % align.offset != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "disk image %s holds %d bytes, not a multiple of its file system's %u-byte direct I/O block: resize it or "
          "drop ',direct'",
          options.path, end, align.offset));
    }
    ASSIGN_OR_RETURN(bounce, DirectIoBounce::Create(align));
  }
  DiskImage image(std::move(fd), options.path, options.readonly, static_cast<uint64_t>(end), std::move(bounce));
  if (options.lock) RETURN_IF_ERROR(image.Lock());
  return image;
}

absl::Status DiskImage::Lock() const {
  struct flock lock = {};
  lock.l_type = readonly_ ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file, however it grows
  if (::fcntl(fd_.get(), F_OFD_SETLK, &lock) != 0) {
    if (errno == EAGAIN || errno == EACCES) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "disk image %s is in use by another VMM or program (it holds a lock on it%s); a disk may be "
          "shared only when every user opens it readonly",
          path_, readonly_ ? " for writing" : ""));
    }
    return absl::ErrnoToStatus(errno, "locking disk image " + path_);
  }
  return absl::OkStatus();
}

absl::Status DiskImage::ReadAt(uint64_t offset, std::span<const iovec> iov) const {
  if (bounce_ == nullptr || FitsDirectIo(bounce_->alignment(), offset, iov)) return RawReadAt(offset, iov);
  return bounce_->Read(offset, iov, [this](uint64_t at, std::span<const iovec> v) { return RawReadAt(at, v); });
}

absl::Status DiskImage::WriteAt(uint64_t offset, std::span<const iovec> iov) const {
  if (bounce_ == nullptr || FitsDirectIo(bounce_->alignment(), offset, iov)) return RawWriteAt(offset, iov);
  return bounce_->Write(
      offset, iov, [this](uint64_t at, std::span<const iovec> v) { return RawReadAt(at, v); },
      [this](uint64_t at, std::span<const iovec> v) { return RawWriteAt(at, v); });
}

absl::Status DiskImage::RawReadAt(uint64_t offset, std::span<const iovec> iov) const {
  return WholeVectorTransfer(iov, offset, "read", path_, [this](const iovec* v, int n, off_t off) {
    return ::preadv(fd_.get(), v, n, off);
  });
}

absl::Status DiskImage::RawWriteAt(uint64_t offset, std::span<const iovec> iov) const {
  return WholeVectorTransfer(iov, offset, "write", path_, [this](const iovec* v, int n, off_t off) {
    return ::pwritev(fd_.get(), v, n, off);
  });
}

absl::Status DiskImage::Flush() const {
  // fdatasync: the guest's flush asks for its data, and the size never
  // changes, so the metadata fsync adds would be wasted.
  if (::fdatasync(fd_.get()) != 0) return absl::ErrnoToStatus(errno, "fdatasync of disk image " + path_);
  return absl::OkStatus();
}

absl::Status DiskImage::Discard(uint64_t offset, uint64_t length) const {
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return absl::OkStatus();
  }
  if (errno == EOPNOTSUPP) return absl::OkStatus();  // a hint the file system cannot take
  return absl::ErrnoToStatus(errno, absl::StrFormat("punching a hole in disk image %s at %u", path_, offset));
}

absl::Status DiskImage::WriteZeroes(uint64_t offset, uint64_t length, bool may_unmap) const {
  const int modes[2] = {may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                        may_unmap ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
  for (int mode : modes) {
    if (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
      return absl::OkStatus();
    }
    if (errno != EOPNOTSUPP) {
      return absl::ErrnoToStatus(errno, absl::StrFormat("zeroing disk image %s at %u", path_, offset));
    }
  }
  return WriteZeroBuffers(offset, length);
}

absl::Status DiskImage::WriteZeroBuffers(uint64_t offset, uint64_t length) const {
  static const std::vector<uint8_t> zeros(1 << 16, 0);
  while (length > 0) {
    const uint64_t n = std::min<uint64_t>(length, zeros.size());
    const iovec one = {const_cast<uint8_t*>(zeros.data()), n};
    if (absl::Status st = WriteAt(offset, {&one, 1}); !st.ok()) return st;
    offset += n;
    length -= n;
  }
  return absl::OkStatus();
}

}  // namespace devices
