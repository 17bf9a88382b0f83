// SPDX-License-Identifier: MIT
#include "devices/net/announce.h"

#include <gtest/gtest.h>

#include <vector>

namespace devices {
namespace {

TEST(AnnounceTest, IsARarpRequestFromTheMacToBroadcast) {
  const MacAddress mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  const std::array<uint8_t, kAnnounceFrameBytes> f = AnnounceFrame(mac);
  const std::vector<uint8_t> expected_head = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // destination: broadcast
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // source: the guest's MAC
      0x80, 0x35,                          // RARP
      0x00, 0x01,                          // hardware: Ethernet
      0x08, 0x00,                          // protocol: IPv4
      6,    4,                             // address lengths
      0x00, 0x03,                          // reverse request
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // sender hardware address
      0,    0,    0,    0,                 // sender protocol address
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // target hardware address
      0,    0,    0,    0,                 // target protocol address
  };
  ASSERT_EQ(expected_head.size(), 42u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 42), expected_head);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 42, f.end()), std::vector<uint8_t>(60 - 42, 0));
}

}  // namespace
}  // namespace devices
