// SPDX-License-Identifier: MIT
// A guest on 2 MiB hugetlb pages (`--memory-backend hugetlb`) that balloons
// with the stock 4 KiB driver path and migrates. The balloon can give a
// hugetlb page back only whole, so it holds 4 KiB inflates in its bitmap
// until their 2 MiB page is complete (devices/balloon/
// hugepage_discard_tracker.h); the host's free hugetlb count
// (/sys/kernel/mm/hugepages/) shows what came back. A migration to a
// hugetlb-backed destination never sends the ballooned pages, so the huge
// pages the source gave back are never faulted in on the destination.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "memory/memory_backend.h"
#include "memory/testing/hugetlb_reservation.h"
#include "tests/booted_guest.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"
#include "tests/scratch_dir.h"

namespace tests {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kPagesPerMiB = kMiB / 4096;
constexpr uint64_t kHugePagesPerGuest = 512;  // 1 GiB of 2 MiB pages

// 2 MiB hugetlb pages the process has faulted in: the sum of the
// *_Hugetlb fields of /proc/PID/smaps.
uint64_t HugetlbPagesOf(pid_t pid) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  uint64_t kib = 0;
  std::string line;
  while (std::getline(smaps, line)) {
    if (line.rfind("Shared_Hugetlb:", 0) == 0 || line.rfind("Private_Hugetlb:", 0) == 0) {
      kib += std::stoull(line.substr(line.find(':') + 1));
    }
  }
  return kib / 2048;
}

TEST(HugepageBackendGuestTest, StockDriverBalloonsWholeHugePagesAndTheGuestMigratesWithoutThem) {
  REQUIRE_KVM();
  // Source and destination: 1 GiB each, plus a little slack.
  memory::HugetlbReservation reservation(2 * kHugePagesPerGuest + 8);
  if (!reservation.ok()) {
    if (InCi()) FAIL() << "CI needs hugetlb pages: " << reservation.why_not();
    GTEST_SKIP() << reservation.why_not();
  }
  ScratchDir dir("hugepage-guest");
  ASSERT_TRUE(dir.ok()) << dir.why();
  const std::string a_sock = dir.Path("a.sock");
  const std::string b_sock = dir.Path("b.sock");

  // The 4 KiB path on purpose: the range format would hand over whole 2 MiB
  // blocks and hide the completion tracking this test is about.
  const std::vector<std::string> shape = {"--memory", "1G", "--balloon-reporting=false", "--balloon-chunks=false"};
  absl::StatusOr<std::string> snapshot = BootedGuestSnapshot(shape);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  auto a = std::make_unique<GuestProcess>(
      RestoreArgs(shape, *snapshot, {"--api-socket", a_sock, "--memory-backend", "hugetlb"}));
  ASSERT_TRUE(a->RunCommand("true", absl::Seconds(120)).has_value()) << a->output() << a->stderr_text();

  // Touch 192 MiB and free it, so that the pages the balloon takes were
  // faulted in on the host.
  auto touched = a->RunCommand("memtouch 192", absl::Seconds(600));
  ASSERT_TRUE(touched.has_value()) << a->output();
  const uint64_t free_before = memory::FreeHugetlbPages();

  ASSERT_TRUE(ResizeBalloon(a_sock, 128, absl::Seconds(300))) << a->stderr_text();
  auto info = CtlJson(a_sock, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(BalloonCounter(*info, "chunk_entries"), 0u) << "the range format was not offered: " << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 128 * kPagesPerMiB) << info->dump();
  // The balloon discards whole 2 MiB pages only, never a piece of one, and
  // the host's free huge pages grew by what it discarded (less any huge page
  // the guest had never touched), by no more than the balloon holds.
  const uint64_t free_after = memory::FreeHugetlbPages();
  const uint64_t given_back = free_after - free_before;
  const uint64_t discarded = BalloonCounter(*info, "bytes_returned");
  EXPECT_GT(free_after, free_before) << "no hugetlb page came back; " << info->dump();
  EXPECT_LE(given_back, 64u) << info->dump();
  EXPECT_EQ(discarded % (2 * kMiB), 0u) << info->dump();
  EXPECT_LE(given_back * 2 * kMiB, discarded) << info->dump();
  EXPECT_LE(discarded, 128 * kMiB) << info->dump();

  const uint64_t a_faulted = HugetlbPagesOf(a->pid());
  EXPECT_LE(a_faulted, kHugePagesPerGuest - given_back);

  // A -> B, both on hugetlb, with the balloon still at 128 MiB.
  const std::string to_b = absl::StrCat("tcp:127.0.0.1:", 21000 + ::getpid() % 20000);
  auto b = std::make_unique<GuestProcess>(
      RunArgs(shape, {"--api-socket", b_sock, "--memory-backend", "hugetlb", "--incoming", to_b}));
  ASSERT_TRUE(b->WaitForStderr("waiting for the source", absl::Seconds(60))) << b->stderr_text();
  auto migrated = CtlJson(a_sock, {"migrate", to_b, "--json"}, absl::Seconds(600));
  ASSERT_TRUE(migrated.has_value()) << a->stderr_text() << b->stderr_text();
  EXPECT_EQ(migrated->value("state", ""), "completed") << migrated->dump();
  EXPECT_EQ(a->WaitExit(absl::Seconds(60)), 0) << a->stderr_text();
  a.reset();

  auto echoed = b->RunCommand("echo moved", absl::Seconds(120));
  ASSERT_TRUE(echoed && echoed->find("moved") != std::string::npos) << b->output() << b->stderr_text();
  // The destination never faulted in the huge pages the source gave back:
  // no byte of them was sent.
  const uint64_t b_faulted = HugetlbPagesOf(b->pid());
  EXPECT_GT(b_faulted, 0u);
  EXPECT_LE(b_faulted, kHugePagesPerGuest - given_back) << "A held " << a_faulted << ", gave back " << given_back;
  info = CtlJson(b_sock, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ((*info)["actual_mib"], 128) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 128 * kPagesPerMiB) << info->dump();

  // The destination deflates the migrated balloon and the guest uses the
  // memory again.
  ASSERT_TRUE(ResizeBalloon(b_sock, 0, absl::Seconds(300))) << b->stderr_text();
  auto again = b->RunCommand("memtouch 64", absl::Seconds(600));
  ASSERT_TRUE(again.has_value()) << b->output();
  EXPECT_NE(again->find("touched 64 MiB"), std::string::npos) << *again;
  b->Send("poweroff -f\n");
  EXPECT_EQ(b->WaitExit(absl::Seconds(60)), 0) << b->stderr_text();
}

}  // namespace
}  // namespace tests
