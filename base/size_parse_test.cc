// SPDX-License-Identifier: MIT
#include "base/size_parse.h"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(ParseSize, AcceptsSuffixes) {
  EXPECT_EQ(*ParseSize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseSize("4G"), 4ull << 30);
  EXPECT_EQ(*ParseSize("4g"), 4ull << 30);
  EXPECT_EQ(*ParseSize("64K"), 64ull << 10);
  EXPECT_EQ(*ParseSize("3584MiB"), 3584ull << 20);
  EXPECT_EQ(*ParseSize("1048576"), 1048576ull);
  EXPECT_EQ(*ParseSize("2T"), 2ull << 40);
}

TEST(ParseSize, RejectsGarbage) {
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("M").ok());
  EXPECT_FALSE(ParseSize("-1G").ok());
  EXPECT_FALSE(ParseSize("12X").ok());
  EXPECT_FALSE(ParseSize("1.5G").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("99999999999T").ok());
}

}  // namespace
}  // namespace base
