// SPDX-License-Identifier: MIT
#include "devices/net/net_header.h"

#include "absl/strings/str_format.h"

namespace devices {
namespace {

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }

// What both directions share: sizes, the checksum request and the GSO type
// against the features that allow them. `csum`, `tso4`, `tso6` are the
// feature bits for this direction.
std::optional<std::string> Check(const virtio_net_hdr_v1& hdr, uint64_t frame_bytes, uint64_t features,
                                 unsigned csum, unsigned tso4, unsigned tso6, uint8_t allowed_flags) {
  if (frame_bytes < kMinFrameBytes) return absl::StrFormat("a %u-byte frame is shorter than an Ethernet header", frame_bytes);
  if (frame_bytes > kMaxFrameBytes) return absl::StrFormat("a %u-byte frame is over %u bytes", frame_bytes, kMaxFrameBytes);
  if (hdr.flags & ~allowed_flags) return absl::StrFormat("header flags 0x%x", hdr.flags);
  const bool needs_csum = hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
  if (needs_csum) {
    if (!(features & Bit(csum))) return "a checksum request without the checksum feature";
    // The 16-bit checksum field lies inside the frame (no overflow: both
    // are 16 bits wide in a 64-bit sum).
    if (uint64_t{hdr.csum_start} + hdr.csum_offset + 2 > frame_bytes) {
      return absl::StrFormat("checksum at %u+%u beyond a %u-byte frame", hdr.csum_start, hdr.csum_offset,
                             frame_bytes);
    }
  }
  switch (hdr.gso_type) {
    case VIRTIO_NET_HDR_GSO_NONE: return std::nullopt;
    case VIRTIO_NET_HDR_GSO_TCPV4:
      if (!(features & Bit(tso4))) return "TCPv4 segmentation without the TSO4 feature";
      break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
      if (!(features & Bit(tso6))) return "TCPv6 segmentation without the TSO6 feature";
      break;
    default:
      // UDP fragmentation and ECN are never offered.
      return absl::StrFormat("GSO type 0x%x", hdr.gso_type);
  }
  // The spec asks for a checksum request with every segmentation request;
  // the segments' headers come from the first hdr_len bytes.
  if (!needs_csum) return "segmentation without a checksum request";
  if (hdr.gso_size == 0) return "segmentation with a segment size of 0";
  if (hdr.hdr_len > frame_bytes) return absl::StrFormat("header length %u beyond a %u-byte frame", hdr.hdr_len, frame_bytes);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CheckTxHeader(const virtio_net_hdr_v1& hdr, uint64_t frame_bytes, uint64_t features) {
  // DATA_VALID and RSC_INFO are the device's to set, never the driver's.
  return Check(hdr, frame_bytes, features, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
               VIRTIO_NET_HDR_F_NEEDS_CSUM);
}

std::optional<std::string> CheckRxHeader(const virtio_net_hdr_v1& hdr, uint64_t frame_bytes, uint64_t features) {
  // The tap marks a checksum it verified whatever its offloads; the device
  // clears the mark for a driver without checksum offload.
  return Check(hdr, frame_bytes, features, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
               VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID);
}

}  // namespace devices
