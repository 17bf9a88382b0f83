// SPDX-License-Identifier: MIT
#include "vmm/resource_use.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vmm {
namespace {

// The shape of a real /proc/self/smaps_rollup (Linux 6.1).
constexpr char kSample[] =
    "55d4c6a0e000-7ffd1b5f1000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:               12345 kB\n"
    "Pss:                9000 kB\n"
    "Pss_Dirty:          4000 kB\n"
    "Pss_Anon:           3500 kB\n"
    "Pss_File:           5400 kB\n"
    "Pss_Shmem:           100 kB\n"
    "Shared_Clean:       6000 kB\n"
    "Anonymous:          3500 kB\n"
    "Swap:                  0 kB\n";

TEST(ResourceUseTest, ParsesTheRollup) {
  SmapsRollup r = ParseSmapsRollup(kSample);
  EXPECT_EQ(r.rss_kib, 12345u);
  EXPECT_EQ(r.pss_anon_kib, 3500u);
  EXPECT_EQ(r.pss_file_kib, 5400u);
}

TEST(ResourceUseTest, MissingOrMalformedFieldsAreZero) {
  SmapsRollup r = ParseSmapsRollup("Rss: lots kB\nPss_Anon:  7 kB\n");
  EXPECT_EQ(r.rss_kib, 0u);
  EXPECT_EQ(r.pss_anon_kib, 7u);
  EXPECT_EQ(r.pss_file_kib, 0u);
  EXPECT_EQ(ParseSmapsRollup("").rss_kib, 0u);
}

TEST(ResourceUseTest, ReadsThisProcessesRollup) {
  std::ifstream file("/proc/self/smaps_rollup");
  if (!file) GTEST_SKIP() << "no /proc/self/smaps_rollup here";
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_GT(ParseSmapsRollup(text.str()).rss_kib, 0u);
}

}  // namespace
}  // namespace vmm
