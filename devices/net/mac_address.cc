// SPDX-License-Identifier: MIT
#include "devices/net/mac_address.h"

#include <sys/random.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace devices {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bits of the first octet: group (multicast) and locally administered.
constexpr uint8_t kMulticastBit = 0x01;
constexpr uint8_t kLocalBit = 0x02;

}  // namespace

absl::StatusOr<MacAddress> ParseMacAddress(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("MAC address '", text, "' ", why, " (expected six hex pairs like 52:54:00:12:34:56)"));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != 6) return bad("does not have six parts");
  MacAddress mac{};
  for (size_t i = 0; i < 6; ++i) {
    if (parts[i].size() != 2) return bad("has a part that is not two hex digits");
    const int hi = HexDigit(parts[i][0]);
    const int lo = HexDigit(parts[i][1]);
    if (hi < 0 || lo < 0) return bad("has a character that is not a hex digit");
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (mac[0] & kMulticastBit) return bad("is a multicast address, which no NIC may own");
  return mac;
}

std::string FormatMacAddress(const MacAddress& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

MacAddress GeneratedMacAddress(uint32_t index) {
  // Drawn once: every NIC of this run shares the prefix. A failed
  // getrandom leaves zeros, still a valid local address.
  static const std::array<uint8_t, 3> prefix = [] {
    std::array<uint8_t, 3> p{};
    if (::getrandom(p.data(), p.size(), 0) != static_cast<ssize_t>(p.size())) p = {};
    return p;
  }();
  return {static_cast<uint8_t>((prefix[0] & ~kMulticastBit) | kLocalBit),
          prefix[1],
          prefix[2],
          static_cast<uint8_t>(index >> 16),
          static_cast<uint8_t>(index >> 8),
          static_cast<uint8_t>(index)};
}

}  // namespace devices
