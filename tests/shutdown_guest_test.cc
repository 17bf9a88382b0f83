// SPDX-License-Identifier: MIT
// `vmm ctl shutdown` (PUT /api/v1/vm.shutdown) with the default guest: the
// VMM presses the ACPI power button and stops the VM itself once timeout_s
// has passed without the guest powering off.
//
// What the default guest does with the button: nothing. Its kernel is built
// without CONFIG_ACPI_BUTTON (guest-images/kernel.config trims it with the
// other ACPI drivers a VM does not use), so no handler claims ACPI's fixed
// power-button event: its enable bit stays clear, so the VMM's press sets
// PWRBTN_STS (the guest sees it) but raises no SCI. Even with the driver, Linux only turns the
// press into a KEY_POWER input event for user space, and the image's /init
// powers off only on busybox's signals (SIGUSR2 and the like), with no
// input device to read (CONFIG_INPUT_EVDEV off). So the path checked here
// is the hard stop, with the guest's own view of the button (its ACPI
// sysfs counter) saying why; if a later image handles the button, the
// first check fails and says to test the clean power-off instead.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/ctl_json.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
const absl::Duration kBootTimeout = absl::Seconds(600);
const absl::Duration kCommandTimeout = absl::Seconds(60);
// The guest's grace period: long enough for a shell command to run in it
// meanwhile (a second or two here), short for the test.
constexpr int kShutdownTimeoutSeconds = 8;
// ACPI's fixed power-button event as the guest kernel counts it:
// "<count> [STS] <state> <mask>": STS while the status bit is set, the
// state "invalid" while no handler is installed (drivers/acpi/sysfs.c).
constexpr char kButtonCounter[] = "cat /sys/firmware/acpi/interrupts/ff_pwr_btn";

TEST(ShutdownGuestTest, PowerButtonIgnoredByTheDefaultGuestThenTheVmmStopsItAfterTheTimeout) {
  REQUIRE_KVM();
  struct stat st;
  ASSERT_EQ(::stat((GuestImageDir() + "/vmlinux").c_str(), &st), 0)
      << "default guest image missing: run guest-images/build.sh";
  const std::string socket = absl::StrCat(::testing::TempDir(), "/shutdown-", ::getpid(), ".sock");
  GuestProcess vm({"run", "--memory", "256M", "--api-socket", socket});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();

  std::optional<std::string> before = vm.RunCommand(kButtonCounter, kCommandTimeout);
  ASSERT_TRUE(before.has_value()) << vm.output();
  ASSERT_TRUE(absl::StrContains(*before, "invalid"))
      << "the guest has a handler for the power button now (" << *before
      << "): test that vm.shutdown powers it off cleanly instead of the hard stop";

  const absl::Time pressed = absl::Now();
  std::optional<nlohmann::json> accepted =
      CtlJson(socket, {"shutdown", "--timeout", absl::StrCat(kShutdownTimeoutSeconds, "s")});
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ((*accepted)["state"], "shutting-down") << accepted->dump();
  EXPECT_EQ((*accepted)["timeout_s"], kShutdownTimeoutSeconds) << accepted->dump();
  std::optional<nlohmann::json> status = CtlJson(socket, {"status"});
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ((*status)["state"], "shutting-down") << status->dump();
  // A second request while the first runs is refused, not stacked.
  GuestProcess again({"ctl", "--api", socket, "shutdown"});
  EXPECT_EQ(again.WaitExit(absl::Seconds(30)), 1);
  EXPECT_TRUE(absl::StrContains(again.stderr_text(), "already under way")) << again.stderr_text();

  // During the grace period the guest runs on. The press reached its PM1
  // status register (the kernel shows PWRBTN_STS as "STS"), but with no
  // handler it counted no event.
  std::optional<std::string> during = vm.RunCommand(kButtonCounter, kCommandTimeout);
  ASSERT_TRUE(during.has_value()) << vm.output();
  EXPECT_FALSE(absl::StrContains(*before, "STS")) << *before;
  EXPECT_TRUE(absl::StrContains(*during, "STS")) << *during;
  EXPECT_TRUE(absl::StrContains(*during, "invalid")) << *during;
  EXPECT_EQ(during->substr(0, during->find(' ')), before->substr(0, before->find(' '))) << *before << " / " << *during;
  ASSERT_LT(absl::Now() - pressed, absl::Seconds(kShutdownTimeoutSeconds))
      << "the command took the whole grace period: nothing left to check the stop against";

  std::optional<int> code = vm.WaitExit(absl::Seconds(60));
  const absl::Duration took = absl::Now() - pressed;
  ASSERT_TRUE(code.has_value()) << "the VMM did not stop the guest: " << vm.stderr_text();
  EXPECT_EQ(*code, 0) << vm.stderr_text();
  EXPECT_GE(took, absl::Seconds(kShutdownTimeoutSeconds));
  EXPECT_LT(took, absl::Seconds(kShutdownTimeoutSeconds + 20)) << vm.stderr_text();
  const std::string log = vm.stderr_text();
  EXPECT_TRUE(absl::StrContains(log, "vm.shutdown: pressing the guest's power button")) << log;
  EXPECT_TRUE(absl::StrContains(log, "the guest has not powered off after the power button (vm.shutdown); stopping it"))
      << log;
  // Stopped from outside: the guest kernel never went through its own
  // power-off (which prints "reboot: Power down" even with `quiet`).
  EXPECT_FALSE(absl::StrContains(vm.output(), "reboot: Power down")) << vm.output();
}

}  // namespace
}  // namespace tests
