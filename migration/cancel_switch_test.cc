// SPDX-License-Identifier: MIT
#include "migration/cancel_switch.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace migration {
namespace {

using Result = CancelSwitch::CancelResult;

TEST(CancelSwitchTest, NothingToCancelBeforeArmOrAfterDisarm) {
  CancelSwitch s;
  EXPECT_EQ(s.Cancel(), Result::kNotRunning);
  CancelSwitch t;
  t.Arm(-1);
  t.Disarm();
  EXPECT_EQ(t.Cancel(), Result::kNotRunning);
}

TEST(CancelSwitchTest, CancelBeforeEndWinsAndShutsTheSocketDown) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  CancelSwitch s;
  s.Arm(sv[0]);
  EXPECT_EQ(s.Cancel(), Result::kCancelled);
  EXPECT_EQ(s.Cancel(), Result::kCancelled);  // twice is the same answer
  EXPECT_TRUE(s.cancelled());
  EXPECT_FALSE(s.PassPointOfNoReturn());  // the sender must not write END now
  char byte = 0;
  EXPECT_EQ(::read(sv[1], &byte, 1), 0);  // the peer sees the connection end
  s.Disarm();
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(CancelSwitchTest, CancelAfterThePointOfNoReturnIsRefused) {
  CancelSwitch s;
  s.Arm(-1);
  EXPECT_TRUE(s.PassPointOfNoReturn());
  EXPECT_EQ(s.Cancel(), Result::kTooLate);
  EXPECT_FALSE(s.cancelled());
}

TEST(CancelSwitchTest, ArmingTwiceWithTheSameSocketKeepsAnEarlyCancel) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  CancelSwitch s;
  s.Arm(sv[0]);  // the owner, before the sender's thread starts
  EXPECT_EQ(s.Cancel(), Result::kCancelled);
  s.Arm(sv[0]);  // the sender, starting
  EXPECT_TRUE(s.cancelled());
  EXPECT_FALSE(s.PassPointOfNoReturn());
  s.Disarm();
  s.Arm(sv[0]);  // a disarmed switch stays disarmed: one per migration
  EXPECT_EQ(s.Cancel(), Result::kNotRunning);
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace migration
