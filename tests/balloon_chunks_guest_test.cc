// SPDX-License-Identifier: MIT
// The balloon's range format (VIRTIO_BALLOON_F_CHUNKS, devices/balloon/
// CHUNKS.md) with the default guest's driver
// (guest-images/patches/0008-balloon-chunks.patch): inflate goes in blocks
// of up to 2 MiB, a deflate smaller than a block splits one, and a device
// that does not offer the bit gets the stock 4 KiB path. Checked through
// the control API (`vmm ctl`), /proc/meminfo and the VMM's RSS; a snapshot
// taken with blocks in the balloon restores and deflates them.
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "tests/booted_guest.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kPagesPerMiB = kMiB / 4096;

bool HasFeature(const nlohmann::json& info, const std::string& name) {
  for (const auto& f : info["features"]) {
    if (f == name) return true;
  }
  return false;
}

class BalloonChunksGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KVM();
    socket_ = ::testing::TempDir() + "/balloon-chunks-test-" + std::to_string(::getpid()) + ".sock";
  }

  uint64_t MemTotalKib(GuestProcess& vm) {
    auto meminfo = vm.RunCommand("cat /proc/meminfo", absl::Seconds(60));
    EXPECT_TRUE(meminfo.has_value()) << vm.output();
    return meminfo ? MeminfoKib(*meminfo, "MemTotal") : 0;
  }

  std::string socket_;
};

TEST_F(BalloonChunksGuestTest, InflatesInBlocksSplitsForASmallDeflateRestoresAndDeflates) {
  // Reporting off, so that only the balloon hands memory back.
  const std::vector<std::string> shape = {"--memory", "1G", "--balloon-reporting=false", "--balloon-chunks=true"};
  absl::StatusOr<std::string> snapshot = BootedGuestSnapshot(shape);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  GuestProcess vm(RestoreArgs(shape, *snapshot, {"--api-socket", socket_}));
  ASSERT_TRUE(vm.RunCommand("true", absl::Seconds(120)).has_value()) << vm.output() << vm.stderr_text();

  auto info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  ASSERT_TRUE(HasFeature(*info, "CHUNKS")) << "the guest driver did not accept the range format: " << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "chunk_entries"), 0u);

  // Touch 192 MiB and free it: the host now holds those pages. (Sizes are
  // small because each emulated guest page fault is slow on PVM; what is
  // checked does not depend on them.)
  auto touched = vm.RunCommand("memtouch 192", absl::Seconds(600));
  ASSERT_TRUE(touched.has_value()) << vm.output();
  uint64_t total_before = MemTotalKib(vm);
  uint64_t rss_before = vm.RssBytes();

  ASSERT_TRUE(ResizeBalloon(socket_, 128, absl::Seconds(240))) << vm.stderr_text();
  uint64_t rss_after = vm.RssBytes();
  info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  // Without DEFLATE_ON_OOM the guest's MemTotal drops by the balloon.
  EXPECT_LE(MemTotalKib(vm) + 125 * 1024, total_before);
  EXPECT_GE(static_cast<int64_t>(rss_before) - static_cast<int64_t>(rss_after), static_cast<int64_t>(128 * kMiB * 95 / 100))
      << "rss before " << rss_before << " after " << rss_after;
  // The guest named blocks, not pages: an idle guest that just freed 192 MiB
  // has 2 MiB blocks ready, so entries average far more than one page.
  uint64_t entries = BalloonCounter(*info, "chunk_entries");
  EXPECT_GT(entries, 0u) << info->dump();
  EXPECT_LE(entries * 64, BalloonCounter(*info, "pages_inflated")) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "chunk_refused"), 0u) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 128 * kPagesPerMiB) << info->dump();
  // One discard per range at most.
  EXPECT_LE(BalloonCounter(*info, "discard_calls"), entries) << info->dump();

  // 1 MiB is less than a 2 MiB block: the driver splits one and deflates
  // 4 KiB pages of it; the rest stays ballooned.
  ASSERT_TRUE(ResizeBalloon(socket_, 127, absl::Seconds(240))) << vm.stderr_text();
  info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 127 * kPagesPerMiB) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "chunk_refused"), 0u) << info->dump();

  // A snapshot carries the negotiated format and the ballooned blocks: the
  // restored VM deflates what the first one inflated.
  const std::string snap = ::testing::TempDir() + "/balloon-chunks-" + std::to_string(::getpid()) + ".snap";
  ASSERT_TRUE(CtlJson(socket_, {"snapshot", snap, "--json"}, absl::Seconds(300)).has_value()) << vm.stderr_text();
  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 0) << vm.stderr_text();
  const std::string restored_socket = socket_ + ".restored";
  GuestProcess restored(RestoreArgs(shape, snap, {"--api-socket", restored_socket}));
  ASSERT_TRUE(restored.RunCommand("true", absl::Seconds(120)).has_value()) << restored.stderr_text();
  ::unlink(snap.c_str());
  info = CtlJson(restored_socket, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(HasFeature(*info, "CHUNKS")) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 127 * kPagesPerMiB) << info->dump();

  // Deflate fully; the guest gets its memory back and can use it.
  ASSERT_TRUE(ResizeBalloon(restored_socket, 0, absl::Seconds(240))) << restored.stderr_text();
  info = CtlJson(restored_socket, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 0u) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "chunk_refused"), 0u) << info->dump();
  EXPECT_EQ(MemTotalKib(restored), total_before);
  auto again = restored.RunCommand("memtouch 64", absl::Seconds(600));
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->find("touched 64 MiB"), std::string::npos) << *again;

  restored.Send("poweroff\n");
  EXPECT_EQ(restored.WaitExit(absl::Seconds(60)), 0) << restored.stderr_text();
}

TEST_F(BalloonChunksGuestTest, WithoutTheDeviceOfferingItTheDriverUsesPfns) {
  const std::vector<std::string> shape = {"--memory", "1G", "--balloon-reporting=false", "--balloon-chunks=false"};
  absl::StatusOr<std::string> snapshot = BootedGuestSnapshot(shape);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  GuestProcess vm(RestoreArgs(shape, *snapshot, {"--api-socket", socket_}));
  ASSERT_TRUE(vm.RunCommand("true", absl::Seconds(120)).has_value()) << vm.output() << vm.stderr_text();

  auto info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(HasFeature(*info, "CHUNKS")) << info->dump();
  uint64_t total_before = MemTotalKib(vm);

  ASSERT_TRUE(ResizeBalloon(socket_, 64, absl::Seconds(240))) << vm.stderr_text();
  info = CtlJson(socket_, {"balloon"});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(BalloonCounter(*info, "chunk_entries"), 0u) << info->dump();
  EXPECT_GE(BalloonCounter(*info, "pages_inflated"), 64 * kPagesPerMiB) << info->dump();
  EXPECT_EQ(BalloonCounter(*info, "ballooned_pages"), 64 * kPagesPerMiB) << info->dump();
  EXPECT_LE(MemTotalKib(vm) + 62 * 1024, total_before);

  ASSERT_TRUE(ResizeBalloon(socket_, 0, absl::Seconds(240))) << vm.stderr_text();
  EXPECT_EQ(MemTotalKib(vm), total_before);

  vm.Send("poweroff\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 0) << vm.stderr_text();
}

}  // namespace
}  // namespace tests
