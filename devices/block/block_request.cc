// SPDX-License-Identifier: MIT
#include "devices/block/block_request.h"

#include <linux/virtio_blk.h>

#include <algorithm>
#include <cstring>

namespace devices {
namespace {

constexpr uint64_t kHeaderBytes = sizeof(virtio_blk_outhdr);
static_assert(kHeaderBytes == 16);

// Cuts [skip, skip + take) out of the stream `segments` (take = rest when
// nullopt).
std::vector<GuestSegment> SubStream(std::span<const GuestSegment> segments, uint64_t skip,
                                    std::optional<uint64_t> take) {
  std::vector<GuestSegment> out;
  uint64_t left = take.value_or(UINT64_MAX);
  for (const GuestSegment& s : segments) {
    if (left == 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const uint64_t n = std::min(s.len - skip, left);
    out.push_back({s.gpa + skip, n});
    left -= n;
    skip = 0;
  }
  return out;
}

}  // namespace

std::optional<BlockRequest> ParseBlockRequest(const virtio::DescriptorChain& chain,
                                              const memory::GuestMemory& mem) {
  std::vector<GuestSegment> readable;
  std::vector<GuestSegment> writable;
  uint64_t readable_len = 0;
  uint64_t writable_len = 0;
  // Chains are at most a queue size long and each buffer under 4 GiB, so
  // these sums cannot overflow.
  for (const virtio::Descriptor& d : chain.descriptors) {
    if (d.len == 0) continue;
    if (d.writable) {
      writable.push_back({d.gpa, d.len});
      writable_len += d.len;
    } else {
      readable.push_back({d.gpa, d.len});
      readable_len += d.len;
    }
  }
  if (writable_len == 0) return std::nullopt;

  BlockRequest req;
  const GuestSegment& last = writable.back();
  req.status_gpa = last.gpa + last.len - 1;
  req.in_len = writable_len - 1;
  req.in_data = SubStream(writable, 0, req.in_len);
  if (readable_len < kHeaderBytes) return req;
  virtio_blk_outhdr header;
  if (!ReadSegments(mem, readable, {reinterpret_cast<uint8_t*>(&header), sizeof(header)}).ok()) return req;
  req.has_header = true;
  req.type = header.type;  // le32 on a little-endian host
  req.sector = header.sector;
  req.out_len = readable_len - kHeaderBytes;
  req.out_data = SubStream(readable, kHeaderBytes, std::nullopt);
  return req;
}

absl::Status ReadSegments(const memory::GuestMemory& mem, std::span<const GuestSegment> segments,
                          std::span<uint8_t> out) {
  size_t done = 0;
  for (const GuestSegment& s : segments) {
    if (done == out.size()) break;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(s.len, out.size() - done));
    if (absl::Status st = mem.ReadBytes(s.gpa, out.subspan(done, n)); !st.ok()) return st;
    done += n;
  }
  if (done < out.size()) return absl::OutOfRangeError("guest buffers shorter than expected");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<iovec>> SegmentIovecs(const memory::GuestMemory& mem,
                                                 std::span<const GuestSegment> segments) {
  std::vector<iovec> iov;
  iov.reserve(segments.size());
  for (const GuestSegment& s : segments) {
    absl::StatusOr<std::span<uint8_t>> slice = mem.Slice(s.gpa, s.len);
    if (!slice.ok()) return slice.status();
    iov.push_back({slice->data(), slice->size()});
  }
  return iov;
}

}  // namespace devices
