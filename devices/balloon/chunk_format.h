// SPDX-License-Identifier: MIT
// The balloon's range ("chunk") format, negotiated with
// VIRTIO_BALLOON_F_CHUNKS (CHUNKS.md in this folder is the specification):
// with it, every buffer on the inflate and deflate queues is an array of
// little-endian 64-bit entries, each naming one naturally aligned block of
// guest-physical memory of 4 KiB << order:
//
//   bits 63..12  guest-physical address of the block (its low 12 bits are 0)
//   bits 11..6   reserved, zero
//   bits  5..0   order (0: 4 KiB, 9: 2 MiB, at most kMaxChunkOrder)
//
// This file decodes and validates entries; it does no guest memory access
// beyond the one checked read of a buffer, and decides nothing about
// discarding (hugepage_discard_tracker.h, the device).
//
// Trust boundary: every entry comes from the guest. A malformed buffer or
// entry is an error Status for the device to log and skip; none of these
// functions can fail because of the host.
#ifndef DEVICES_BALLOON_CHUNK_FORMAT_H_
#define DEVICES_BALLOON_CHUNK_FORMAT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "devices/balloon/page_bitmap.h"
#include "devices/balloon/pfn_ranges.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"

namespace devices {

// Feature bit 23: the top of the first device-specific range (0..23).
// The spec assigns 0..5; 6 is crosvm's RESPONSIVE_DEVICE (and the unmerged
// CONT_PAGES proposal), 7 crosvm's EVENTS_VQ, 8 crosvm's WS_REPORTING.
// Assignments grow upward from there, so the top bit is the least likely
// to collide; bits 50+ would need 128-bit feature support in guests.
inline constexpr unsigned kBalloonFChunks = 23;

// 1 GiB: the largest block a guest could usefully name (a gigantic page),
// and the bound on one entry's bitmap work.
inline constexpr unsigned kMaxChunkOrder = 18;
// Entries per buffer (one descriptor), as the PFN format's 256 per buffer:
// the device holds one buffer at a time.
inline constexpr uint32_t kMaxChunksPerBuffer = 256;

inline constexpr uint64_t kChunkOrderMask = 0x3f;
inline constexpr uint64_t kChunkReservedMask = 0xfc0;

constexpr uint64_t EncodeChunk(uint64_t gpa, unsigned order) { return gpa | order; }

// The block one entry names, checked on its own: reserved bits clear,
// order at most kMaxChunkOrder, address aligned to the block's size, and
// the whole block inside one RAM region of `mem`.
absl::StatusOr<PfnRange> DecodeChunk(uint64_t entry, const memory::GuestMemory& mem);

// The entries of one buffer (replacing `entries`): device-readable,
// a whole number of entries, at most kMaxChunksPerBuffer of them.
absl::Status ReadChunkBuffer(const virtio::Descriptor& desc, const memory::GuestMemory& mem,
                             std::vector<uint64_t>& entries);

// Checks against what is ballooned: an inflated block must not overlap any
// ballooned page (so the guest cannot give a page twice and the pages it
// names are counted once); a deflated block must be ballooned entirely.
absl::Status CheckInflatable(const PageBitmap& ballooned, const PfnRange& block);
absl::Status CheckDeflatable(const PageBitmap& ballooned, const PfnRange& block);

}  // namespace devices

#endif  // DEVICES_BALLOON_CHUNK_FORMAT_H_
