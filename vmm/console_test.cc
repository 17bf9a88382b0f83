// SPDX-License-Identifier: MIT
#include "vmm/console.h"

#include <gtest/gtest.h>

namespace vmm {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(EscapeFilter, PassesOrdinaryBytes) {
  EscapeFilter f;
  auto in = Bytes("ls\r");
  auto r = f.Feed(in.data(), in.size());
  EXPECT_EQ(r.to_guest, in);
  EXPECT_FALSE(r.quit);
}

TEST(EscapeFilter, CtrlAXQuits) {
  EscapeFilter f;
  auto in = Bytes("a\x01x");
  auto r = f.Feed(in.data(), in.size());
  EXPECT_TRUE(r.quit);
  EXPECT_EQ(r.to_guest, Bytes("a"));
}

TEST(EscapeFilter, EscapeSplitAcrossReads) {
  EscapeFilter f;
  auto first = Bytes("\x01");
  EXPECT_FALSE(f.Feed(first.data(), 1).quit);
  auto second = Bytes("x");
  EXPECT_TRUE(f.Feed(second.data(), 1).quit);
}

TEST(EscapeFilter, DoubleCtrlASendsOneAndOtherKeysAreDropped) {
  EscapeFilter f;
  auto in = Bytes("\x01\x01" "b\x01zc");
  auto r = f.Feed(in.data(), in.size());
  EXPECT_FALSE(r.quit);
  EXPECT_EQ(r.to_guest, Bytes("\x01" "bc"));
}

}  // namespace
}  // namespace vmm
