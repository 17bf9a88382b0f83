// SPDX-License-Identifier: MIT
#include "devices/balloon/chunk_format.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace devices {

absl::StatusOr<PfnRange> DecodeChunk(uint64_t entry, const memory::GuestMemory& mem) {
  if (entry & kChunkReservedMask) {
    return absl::InvalidArgumentError(absl::StrFormat("chunk 0x%x has reserved bits set", entry));
  }
  const unsigned order = static_cast<unsigned>(entry & kChunkOrderMask);
  if (order > kMaxChunkOrder) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk 0x%x has order %u, above %u", entry, order, kMaxChunkOrder));
  }
  const uint64_t gpa = entry & ~(kChunkOrderMask | kChunkReservedMask);
  const uint64_t length = memory::kPageSize << order;
  if (gpa % length != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk at 0x%x of order %u is not aligned to its size", gpa, order));
  }
  // gpa + length cannot wrap: gpa is a multiple of length < 2^31.
  if (!mem.IsValidRange(gpa, length)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk [0x%x, +0x%x) is not inside one RAM region", gpa, length));
  }
  return PfnRange{gpa >> kBalloonPfnShift, length >> kBalloonPfnShift};
}

absl::Status ReadChunkBuffer(const virtio::Descriptor& desc, const memory::GuestMemory& mem,
                             std::vector<uint64_t>& entries) {
  entries.clear();
  if (desc.writable) return absl::InvalidArgumentError("chunk buffer is device-writable");
  if (desc.len % sizeof(uint64_t) != 0 || desc.len / sizeof(uint64_t) > kMaxChunksPerBuffer) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "chunk buffer of %u bytes (a multiple of 8, at most %u entries)", desc.len, kMaxChunksPerBuffer));
  }
  if (desc.len == 0) return absl::OkStatus();
  entries.resize(desc.len / sizeof(uint64_t));
  // The queue checked [gpa, gpa + len) against RAM; little-endian host.
  return mem.ReadBytes(desc.gpa, {reinterpret_cast<uint8_t*>(entries.data()), desc.len});
}

absl::Status CheckInflatable(const PageBitmap& ballooned, const PfnRange& block) {
  if (ballooned.AnySet(block.first_pfn, block.count)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "inflated chunk of %u pages at PFN 0x%x overlaps ballooned pages", block.count, block.first_pfn));
  }
  return absl::OkStatus();
}

absl::Status CheckDeflatable(const PageBitmap& ballooned, const PfnRange& block) {
  if (!ballooned.AllSet(block.first_pfn, block.count)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "deflated chunk of %u pages at PFN 0x%x is not wholly ballooned", block.count, block.first_pfn));
  }
  return absl::OkStatus();
}

}  // namespace devices
