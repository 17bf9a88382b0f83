// SPDX-License-Identifier: MIT
// devices::ParseBlockRequest: how a virtio-blk request (virtio 1.2, 5.2.6)
// lies in a descriptor chain, whatever the driver's framing.
//
// The spec lets a driver split a request across descriptors as it likes,
// so the chain is read as two byte streams, not as a fixed set of buffers:
// the device-readable bytes (a 16-byte header, then the data of a write or
// the ranges of a discard) and the device-writable bytes (the data of a
// read or the id, then one status byte, the last writable byte). Linux
// happens to give each part its own descriptor; a header that starts a
// data buffer, or data that shares the status byte's buffer, parse the
// same way.
//
// Trust boundary: the chain comes from the guest, already checked by
// virtio::Queue (every buffer inside one RAM region, readable ones before
// writable ones). Here only its shape is judged; what the type and sectors
// mean is the device's to check.
#ifndef DEVICES_BLOCK_BLOCK_REQUEST_H_
#define DEVICES_BLOCK_BLOCK_REQUEST_H_

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"

namespace devices {

// A stretch of guest RAM inside one region (part of a descriptor).
struct GuestSegment {
  memory::Gpa gpa = 0;
  uint64_t len = 0;
};

struct BlockRequest {
  // False when the readable bytes are fewer than the 16-byte header; then
  // type and sector are zero and the request can only be failed.
  bool has_header = false;
  uint32_t type = 0;
  uint64_t sector = 0;
  std::vector<GuestSegment> out_data;  // readable bytes after the header
  uint64_t out_len = 0;
  std::vector<GuestSegment> in_data;  // writable bytes before the status byte
  uint64_t in_len = 0;
  memory::Gpa status_gpa = 0;  // the last writable byte
};

// nullopt when the chain has no writable byte to put the status in: such a
// request cannot be answered, only returned unused.
std::optional<BlockRequest> ParseBlockRequest(const virtio::DescriptorChain& chain,
                                              const memory::GuestMemory& mem);

// Copies the bytes of `segments` (at most out.size()) into `out`.
absl::Status ReadSegments(const memory::GuestMemory& mem, std::span<const GuestSegment> segments,
                          std::span<uint8_t> out);
// Host views of `segments`, for preadv/pwritev straight to/from guest RAM.
absl::StatusOr<std::vector<iovec>> SegmentIovecs(const memory::GuestMemory& mem,
                                                 std::span<const GuestSegment> segments);

}  // namespace devices

#endif  // DEVICES_BLOCK_BLOCK_REQUEST_H_
