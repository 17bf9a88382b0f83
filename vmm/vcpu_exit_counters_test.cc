// SPDX-License-Identifier: MIT
#include "vmm/vcpu_exit_counters.h"

#include <gtest/gtest.h>

#include <thread>

namespace vmm {
namespace {

TEST(VcpuExitCounters, CountsPerVcpuAndReasonByTheVariantsNames) {
  VcpuExitCounters counters(2);
  VcpuExit mmio = MmioExit{};
  VcpuExit halt = HaltExit{};
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) counters.Count(0, mmio.index());
  });
  std::thread b([&] {
    for (int i = 0; i < 500; ++i) counters.Count(1, halt.index());
  });
  a.join();
  b.join();
  std::vector<api::VcpuExitCount> s = counters.Snapshot();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].vcpu, 0u);
  EXPECT_EQ(s[0].reason, "mmio");
  EXPECT_EQ(s[0].count, 1000u);
  EXPECT_EQ(s[1].vcpu, 1u);
  EXPECT_EQ(s[1].reason, "halt");
  EXPECT_EQ(s[1].count, 500u);
}

TEST(VcpuExitCounters, NamesMatchTheVariantOrder) {
  EXPECT_STREQ(kExitReasonNames[VcpuExit(IoExit{}).index()], "io");
  EXPECT_STREQ(kExitReasonNames[VcpuExit(InterruptedExit{}).index()], "interrupted");
  EXPECT_STREQ(kExitReasonNames[VcpuExit(UnhandledExit{}).index()], "unhandled");
}

}  // namespace
}  // namespace vmm
