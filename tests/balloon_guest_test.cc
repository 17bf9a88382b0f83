// SPDX-License-Identifier: MIT
// The virtio-balloon with the real Linux driver in the default guest:
// inflate and deflate through the control API (`vmm ctl`, as a user types
// it), what the guest reports in /proc/meminfo, what the host sees (the
// VMM's RSS), statistics, and free page reporting. Sizes are small because
// the guest kernel is emulated here (docs/PVM.md).
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/booted_guest.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
// Boots take minutes here, and ctest runs two guest tests side by side.
const absl::Duration kBootTimeout = absl::Seconds(600);
constexpr uint64_t kMiB = 1 << 20;

class BalloonGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KVM();
    socket_ = ::testing::TempDir() + "/balloon-test-" + std::to_string(::getpid()) + ".sock";
  }
  std::string socket_;
};

// Polls the API until the guest's `actual` reaches `mib`.
bool WaitForActual(const std::string& socket, uint64_t mib, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto info = CtlJson(socket, {"balloon"});
    if (info && (*info)["actual_mib"] == mib) return true;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return false;
}

TEST_F(BalloonGuestTest, InflateGivesMemoryBackAndDeflateReturnsIt) {
  // A running guest, not a boot, is what this needs: restore the shared one.
  // Reporting off, so that only the balloon hands memory back.
  const std::vector<std::string> shape = {"--memory", "1G", "--balloon-reporting=false"};
  absl::StatusOr<std::string> snapshot = BootedGuestSnapshot(shape);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  GuestProcess vm(RestoreArgs(shape, *snapshot, {"--api-socket", socket_}));
  ASSERT_TRUE(vm.RunCommand("true", absl::Seconds(120)).has_value()) << vm.output() << vm.stderr_text();

  auto info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ((*info)["size_mib"], 0);
  EXPECT_NE((*info)["features"].dump().find("STATS_VQ"), std::string::npos) << info->dump();

  // Touch 384 MiB and free it: the host now holds those pages.
  auto touched = vm.RunCommand("memtouch 384", absl::Seconds(600));
  ASSERT_TRUE(touched.has_value()) << vm.output();
  EXPECT_NE(touched->find("touched 384 MiB"), std::string::npos) << *touched;
  auto before = vm.RunCommand("cat /proc/meminfo", absl::Seconds(60));
  ASSERT_TRUE(before.has_value());
  uint64_t rss_before = vm.RssBytes();

  ASSERT_TRUE(CtlJson(socket_, {"balloon", "256M"}).has_value());
  ASSERT_TRUE(WaitForActual(socket_, 256, absl::Seconds(240))) << vm.stderr_text();
  auto after = vm.RunCommand("cat /proc/meminfo", absl::Seconds(60));
  ASSERT_TRUE(after.has_value());
  uint64_t rss_after = vm.RssBytes();

  // Without DEFLATE_ON_OOM the guest's MemTotal drops by the balloon.
  EXPECT_LE(MeminfoKib(*after, "MemTotal") + 250 * 1024, MeminfoKib(*before, "MemTotal"))
      << *before << "\n---\n" << *after;
  // The host got the pages back: RSS fell by at least 95% of 256 MiB (85%
  // in sanitizer builds, whose allocator holds on to freed heap).
#ifdef VMM_SANITIZED_BUILD
  constexpr int64_t kPercentBack = 85;
#else
  constexpr int64_t kPercentBack = 95;
#endif
  EXPECT_GE(static_cast<int64_t>(rss_before) - static_cast<int64_t>(rss_after),
            static_cast<int64_t>(256 * kMiB * kPercentBack / 100))
      << "rss before " << rss_before << " after " << rss_after;

  info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  auto counters = (*info)["counters"];
  EXPECT_GE(counters["pages_inflated"].get<uint64_t>(), 256u * 256);
  // Batched: far fewer discard calls than pages.
  EXPECT_LE(counters["discard_calls"].get<uint64_t>() * 16, counters["pages_inflated"].get<uint64_t>())
      << counters.dump();

  auto stats = CtlJson(socket_, {"balloon", "stats"});
  ASSERT_TRUE(stats.has_value());
  EXPECT_TRUE(stats->contains("free_memory")) << stats->dump();
  EXPECT_TRUE(stats->contains("total_memory")) << stats->dump();
  EXPECT_EQ((*stats)["free_memory"]["unit"], "bytes");

  // Deflate fully; the guest gets its memory back and can use it.
  ASSERT_TRUE(CtlJson(socket_, {"balloon", "0"}).has_value());
  ASSERT_TRUE(WaitForActual(socket_, 0, absl::Seconds(240)));
  auto restored = vm.RunCommand("cat /proc/meminfo", absl::Seconds(60));
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(MeminfoKib(*restored, "MemTotal"), MeminfoKib(*before, "MemTotal"));
  // Page faults are emulated here, so touching is slow: a modest touch shows
  // the returned memory is usable; MemTotal above shows it is all back.
  auto again = vm.RunCommand("memtouch 320", absl::Seconds(600));
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->find("touched 320 MiB"), std::string::npos) << *again;

  // Bad requests are refused and leave the VM running.
  GuestProcess too_big({"ctl", "--api", socket_, "balloon", "2G"});
  EXPECT_EQ(too_big.WaitExit(absl::Seconds(30)), 1);
  EXPECT_NE(too_big.stderr_text().find("below the guest"), std::string::npos) << too_big.stderr_text();
  EXPECT_TRUE(vm.RunCommand("true", absl::Seconds(60)).has_value());

  vm.Send("poweroff\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 0) << vm.stderr_text();
}

TEST_F(BalloonGuestTest, FreePageReportingReturnsFreedMemoryWithoutATarget) {
  GuestProcess vm({"run", "--memory", "1G", "--api-socket", socket_});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();
  ASSERT_TRUE(vm.RunCommand("true", absl::Seconds(60)).has_value());
  // Hold the memory so the RSS peak can be seen, then free it.
  vm.Send("memtouch 256 --hold 5\n");
  ASSERT_TRUE(vm.WaitFor("touched 256 MiB", absl::Seconds(600))) << vm.output();
  uint64_t peak = vm.RssBytes();
  // Reporting runs a couple of seconds after pages are freed.
  uint64_t low = peak;
  absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline && peak - low < 200 * kMiB) {
    absl::SleepFor(absl::Seconds(1));
    low = std::min(low, vm.RssBytes());
  }
  EXPECT_GE(peak - low, 200 * kMiB) << "peak " << peak << " low " << low;
  auto info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ((*info)["size_mib"], 0);
  EXPECT_GT((*info)["counters"]["reported_ranges"].get<uint64_t>(), 0u) << info->dump();
  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 0);
}

}  // namespace
}  // namespace tests
