// SPDX-License-Identifier: MIT
// devices::Tap on real tap devices, in a network namespace of the test's
// own (root only: skipped without the privilege).
#include "devices/net/tap.h"

#include <linux/if_tun.h>

#include <gtest/gtest.h>

#include "devices/net/testing/net_harness.h"

namespace devices {
namespace {

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EnterFreshNetns()) GTEST_SKIP() << "no network namespace of our own (not root?)";
  }
};

TEST_F(TapTest, OpensATapWithOffloadsOff) {
  absl::StatusOr<Tap> tap = Tap::Open("vmmtap0");
  ASSERT_TRUE(tap.ok()) << tap.status();
  EXPECT_EQ(tap->name(), "vmmtap0");
  EXPECT_TRUE(tap->offloads_supported());
  EXPECT_EQ(tap->offloads(), 0u);
  EXPECT_TRUE(tap->SetOffloads(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6).ok());
  EXPECT_EQ(tap->offloads(), unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6});
}

TEST_F(TapTest, ATapInUseIsRefusedNamingIt) {
  absl::StatusOr<Tap> first = Tap::Open("vmmtap1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Tap> second = Tap::Open("vmmtap1");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string(second.status().message()).find("'vmmtap1'"), std::string::npos) << second.status();
}

TEST_F(TapTest, ANameTooLongIsRefusedNamingIt) {
  absl::StatusOr<Tap> tap = Tap::Open("a-name-far-too-long-for-linux");
  ASSERT_FALSE(tap.ok());
  EXPECT_NE(std::string(tap.status().message()).find("a-name-far-too-long-for-linux"), std::string::npos);
}

}  // namespace
}  // namespace devices
