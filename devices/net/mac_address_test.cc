// SPDX-License-Identifier: MIT
#include "devices/net/mac_address.h"

#include <gtest/gtest.h>

namespace devices {
namespace {

TEST(MacAddressTest, ParsesAndFormatsBothCases) {
  absl::StatusOr<MacAddress> mac = ParseMacAddress("52:54:00:Ab:cD:ef");
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(*mac, (MacAddress{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}));
  EXPECT_EQ(FormatMacAddress(*mac), "52:54:00:ab:cd:ef");
}

TEST(MacAddressTest, RefusesBadTextNamingIt) {
  for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5", "52:54:00:12:34:5g",
                          "52-54-00-12-34-56", "52:54:00:12:34:567", "01:00:5e:00:00:01"}) {
    absl::StatusOr<MacAddress> mac = ParseMacAddress(bad);
    ASSERT_FALSE(mac.ok()) << bad;
    EXPECT_NE(std::string(mac.status().message()).find(std::string("'") + bad + "'"), std::string::npos)
        << mac.status();
  }
}

TEST(MacAddressTest, GeneratedAddressesAreLocalUnicastStableAndDistinct) {
  const MacAddress a = GeneratedMacAddress(0);
  const MacAddress b = GeneratedMacAddress(1);
  EXPECT_EQ(a[0] & 0x01, 0);  // unicast
  EXPECT_EQ(a[0] & 0x02, 0x02);  // locally administered
  EXPECT_NE(a, b);
  EXPECT_EQ(GeneratedMacAddress(0), a);
  EXPECT_TRUE(ParseMacAddress(FormatMacAddress(b)).ok());
}

}  // namespace
}  // namespace devices
