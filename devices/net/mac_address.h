// SPDX-License-Identifier: MIT
// devices::MacAddress: an Ethernet address as the user types it
// (--net tap=NAME,mac=52:54:00:12:34:56) and as the guest reads it from
// virtio-net's configuration space.
//
// Trust boundary: ParseMacAddress takes the user's text and refuses
// anything but six colon-separated hex pairs, naming what was typed; a
// multicast address is refused too, as no NIC may own one.
#ifndef DEVICES_NET_MAC_ADDRESS_H_
#define DEVICES_NET_MAC_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace devices {

using MacAddress = std::array<uint8_t, 6>;

absl::StatusOr<MacAddress> ParseMacAddress(absl::string_view text);
// "52:54:00:12:34:56": lower-case hex.
std::string FormatMacAddress(const MacAddress& mac);

// A locally administered unicast address for the `index`-th NIC of this
// VMM process: a random prefix drawn once per process, then the index, so
// the addresses of one run differ from each other and stay the same for
// the whole run.
MacAddress GeneratedMacAddress(uint32_t index);

}  // namespace devices

#endif  // DEVICES_NET_MAC_ADDRESS_H_
