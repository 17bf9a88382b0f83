// SPDX-License-Identifier: MIT
// Direct I/O (O_DIRECT) on a disk image: what alignment the host's file
// system asks for, and a bounce buffer for the transfers that miss it.
//
// With O_DIRECT the host's page cache is bypassed, so the image's data is
// not cached twice (once by the guest, once by the host) and a write that
// returns has reached the device's queue. The price is alignment: file
// offsets and lengths must be multiples of the file system's direct-I/O
// block, and buffers must start on its memory alignment. A Linux guest's
// page-cache I/O already is (whole, page-aligned pages at 512-byte sectors
// that are multiples of 4 KiB), so its requests go straight through; a
// request that is not (a driver with other habits, O_DIRECT in the guest
// on a 512-byte boundary, a hostile driver) is served through one aligned
// buffer of this disk's, in bounded pieces, with read-modify-write of the
// partial blocks at its ends.
//
// Trust boundary: offsets and lengths come from the device, which has
// checked them against the capacity; the image's size is a multiple of
// the offset alignment (DiskImage::Open checks it), so the aligned range
// around a request never passes the end of the image.
//
// Thread-safety: DirectIoBounce serializes its users on its own mutex; the
// read-modify-write of an edge block is only safe because nothing else
// writes that block meanwhile, which the disk's single worker ensures.
#ifndef DEVICES_BLOCK_DIRECT_IO_H_
#define DEVICES_BLOCK_DIRECT_IO_H_

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/scoped_mmap.h"

namespace devices {

struct DirectIoAlignment {
  uint64_t memory = 0;  // a buffer's address (and each iovec's length) must be a multiple of this
  uint64_t offset = 0;  // a transfer's file offset and length must be multiples of this
};

// The alignment direct I/O on `fd` (opened with O_DIRECT) needs. Errors
// name `path`: a file system that refuses direct I/O (statx reports no
// alignment, or it is tmpfs, whose O_DIRECT keeps the file in memory all
// the same) or asks for an alignment above the bounce buffer's size.
absl::StatusOr<DirectIoAlignment> ProbeDirectIo(int fd, const std::string& path);

// True when a transfer of `iov` at `offset` may go to the O_DIRECT file
// as it is.
bool FitsDirectIo(const DirectIoAlignment& align, uint64_t offset, std::span<const iovec> iov);

class DirectIoBounce {
 public:
  // Bytes moved per system call through the bounce buffer.
  static constexpr uint64_t kBufferBytes = 1 << 20;
  // A whole transfer of `iov` at `offset` on the O_DIRECT file, aligned.
  using Transfer = std::function<absl::Status(uint64_t offset, std::span<const iovec> iov)>;

  static absl::StatusOr<std::unique_ptr<DirectIoBounce>> Create(const DirectIoAlignment& align);

  const DirectIoAlignment& alignment() const { return align_; }
  // Fills `iov` from `offset`: aligned pieces through the buffer.
  absl::Status Read(uint64_t offset, std::span<const iovec> iov, const Transfer& read);
  // Writes `iov` at `offset`: each piece through the buffer, the partial
  // blocks at the ends read first so that the bytes around them stay.
  absl::Status Write(uint64_t offset, std::span<const iovec> iov, const Transfer& read, const Transfer& write);

 private:
  DirectIoBounce(const DirectIoAlignment& align, base::ScopedMmap buffer) : align_(align), buffer_(std::move(buffer)) {}

  const DirectIoAlignment align_;
  absl::Mutex mu_;
  base::ScopedMmap buffer_ ABSL_GUARDED_BY(mu_);  // page-aligned, kBufferBytes
};

}  // namespace devices

#endif  // DEVICES_BLOCK_DIRECT_IO_H_
