// SPDX-License-Identifier: MIT
// devices::CheckTxHeader / CheckRxHeader: whether the virtio-net header in
// front of a frame (virtio 1.2, 5.1.6) asks only for what was negotiated.
//
// Trust boundary: a transmitted header comes from the guest and goes to the
// host's tap, whose kernel builds a socket buffer from it; a received one
// comes from the host's tap and goes to a guest that may have negotiated
// less than the tap was set to give (a reset races a frame already queued).
// Both are judged here, on a copy the caller made, before the frame moves.
#ifndef DEVICES_NET_NET_HEADER_H_
#define DEVICES_NET_NET_HEADER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "devices/net/virtio_net_uapi.h"

namespace devices {

// With VIRTIO_F_VERSION_1 the header always carries num_buffers.
inline constexpr size_t kNetHeaderBytes = sizeof(virtio_net_hdr_v1);
static_assert(kNetHeaderBytes == 12);
// The largest frame either way: a 64 KiB GSO packet and its Ethernet
// header, as QEMU and Linux's tap allow.
inline constexpr size_t kMaxFrameBytes = 65550;
// An Ethernet header: nothing shorter is a frame.
inline constexpr size_t kMinFrameBytes = 14;

// Why a frame of `frame_bytes` behind `hdr`, sent by a driver that
// negotiated `features`, must be dropped; nullopt when it may go out.
std::optional<std::string> CheckTxHeader(const virtio_net_hdr_v1& hdr, uint64_t frame_bytes, uint64_t features);
// The same for a frame the tap gave, before it goes to the guest.
std::optional<std::string> CheckRxHeader(const virtio_net_hdr_v1& hdr, uint64_t frame_bytes, uint64_t features);

}  // namespace devices

#endif  // DEVICES_NET_NET_HEADER_H_
