// SPDX-License-Identifier: MIT
// devices::DiskImage: the host side of a virtio-blk disk, a raw image file
// (or block device) opened once and locked for this VMM alone.
//
// Locking: an OFD lock (fcntl F_OFD_SETLK) over the whole file, a write
// lock for a read-write disk and a read lock for a readonly one, so two
// VMMs never write one image and no VMM writes an image another one reads;
// several readonly users may share it. OFD locks belong to the open file,
// not the process, so a second open in the same VMM conflicts too, and the
// lock goes away with the fd (a VMM that dies frees its disk).
//
// Trust boundary: offsets and lengths come from the device, which has
// checked them against the capacity; this class only turns them into
// system calls and reports host failures as Status.
//
// Direct I/O (`direct`): the image is opened with O_DIRECT, bypassing the
// host's page cache; transfers the file system's alignment does not allow
// go through a bounce buffer (devices/block/direct_io.h).
//
// Thread-safety: the I/O calls are positional (preadv/pwritev/fallocate)
// and may run from any thread; the object itself is immutable after Open
// (the bounce buffer of a direct image has a mutex of its own).
#ifndef DEVICES_BLOCK_DISK_IMAGE_H_
#define DEVICES_BLOCK_DISK_IMAGE_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "devices/block/direct_io.h"

namespace devices {

struct DiskImageOptions {
  std::string path;
  bool readonly = false;
  // False: opened without the lock, which Lock() takes later. A migration
  // or restore destination opens the image while the source VMM still
  // holds it, and locks it once the source has handed the guest over.
  bool lock = true;
  // O_DIRECT. Errors name the path where the file system refuses it (and
  // on tmpfs, whose O_DIRECT is nominal) and where the image's size is not
  // a multiple of its direct-I/O block.
  bool direct = false;
};

class DiskImage {
 public:
  // Opens and locks `options.path`. Errors name the path: missing file,
  // no permission, locked by another user ("in use"), empty image.
  static absl::StatusOr<DiskImage> Open(const DiskImageOptions& options);

  DiskImage(DiskImage&&) = default;
  DiskImage& operator=(DiskImage&&) = default;

  // Takes the lock (see the top of this file); FailedPrecondition naming
  // the path while another user holds a conflicting one. Idempotent.
  absl::Status Lock() const;

  const std::string& path() const { return path_; }
  bool readonly() const { return readonly_; }
  bool direct() const { return bounce_ != nullptr; }
  // The image's size when opened; a file that grows later is not seen.
  uint64_t size_bytes() const { return size_bytes_; }

  // Whole transfers at `offset`: short reads/writes are retried; reading
  // past the end of the file is an error (the image shrank under us).
  absl::Status ReadAt(uint64_t offset, std::span<const iovec> iov) const;
  absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov) const;
  absl::Status Flush() const;
  // Deallocates [offset, offset + length) (FALLOC_FL_PUNCH_HOLE, size
  // kept); it reads as zeros afterwards. A file system without hole
  // punching makes this a no-op (discard is a hint).
  absl::Status Discard(uint64_t offset, uint64_t length) const;
  // Makes [offset, offset + length) read as zeros: ZERO_RANGE, else (or
  // with `may_unmap`, first) PUNCH_HOLE, else writes of zeros.
  absl::Status WriteZeroes(uint64_t offset, uint64_t length, bool may_unmap) const;

 private:
  DiskImage(base::UniqueFd fd, std::string path, bool readonly, uint64_t size,
            std::unique_ptr<DirectIoBounce> bounce)
      : fd_(std::move(fd)), path_(std::move(path)), readonly_(readonly), size_bytes_(size), bounce_(std::move(bounce)) {}
  absl::Status WriteZeroBuffers(uint64_t offset, uint64_t length) const;
  // preadv/pwritev of the whole of `iov` at `offset`, as it is.
  absl::Status RawReadAt(uint64_t offset, std::span<const iovec> iov) const;
  absl::Status RawWriteAt(uint64_t offset, std::span<const iovec> iov) const;

  base::UniqueFd fd_;
  std::string path_;
  bool readonly_;
  uint64_t size_bytes_;
  std::unique_ptr<DirectIoBounce> bounce_;  // set for a direct image only
};

}  // namespace devices

#endif  // DEVICES_BLOCK_DISK_IMAGE_H_
