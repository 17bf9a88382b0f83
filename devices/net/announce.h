// SPDX-License-Identifier: MIT
// devices::AnnounceFrame: the frame a VMM sends from a NIC that just moved
// (a restore, the end of an incoming migration) so that the switches
// between it and the guest's peers learn the NIC's new port. Like QEMU's
// self-announce it is a RARP request (ethertype 0x8035, RFC 903) to the
// broadcast address from the guest's MAC: every switch sees the source
// address, and no host answers or changes its ARP cache, which a
// gratuitous ARP would need the guest's IP address for.
#ifndef DEVICES_NET_ANNOUNCE_H_
#define DEVICES_NET_ANNOUNCE_H_

#include <array>
#include <cstdint>

#include "devices/net/mac_address.h"

namespace devices {

// The minimum Ethernet frame (without the FCS), zero-padded.
inline constexpr size_t kAnnounceFrameBytes = 60;

std::array<uint8_t, kAnnounceFrameBytes> AnnounceFrame(const MacAddress& mac);

}  // namespace devices

#endif  // DEVICES_NET_ANNOUNCE_H_
