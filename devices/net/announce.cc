// SPDX-License-Identifier: MIT
#include "devices/net/announce.h"

#include <linux/if_arp.h>
#include <linux/if_ether.h>

#include <cstring>

namespace devices {
namespace {

void PutBe16(uint8_t* at, uint16_t v) {
  at[0] = static_cast<uint8_t>(v >> 8);
  at[1] = static_cast<uint8_t>(v);
}

}  // namespace

std::array<uint8_t, kAnnounceFrameBytes> AnnounceFrame(const MacAddress& mac) {
  std::array<uint8_t, kAnnounceFrameBytes> f{};
  uint8_t* p = f.data();
  std::memset(p, 0xff, ETH_ALEN);  // to everyone
  std::memcpy(p + ETH_ALEN, mac.data(), ETH_ALEN);
  PutBe16(p + 12, ETH_P_RARP);
  uint8_t* arp = p + ETH_HLEN;
  PutBe16(arp + 0, ARPHRD_ETHER);
  PutBe16(arp + 2, ETH_P_IP);
  arp[4] = ETH_ALEN;
  arp[5] = 4;  // IPv4 address length
  PutBe16(arp + 6, ARPOP_RREQUEST);
  // Sender and target hardware addresses are both the NIC's; the protocol
  // addresses stay zero (unknown).
  std::memcpy(arp + 8, mac.data(), ETH_ALEN);
  std::memcpy(arp + 18, mac.data(), ETH_ALEN);
  return f;
}

}  // namespace devices
