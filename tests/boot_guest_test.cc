// SPDX-License-Identifier: MIT
// Boots the project's default guest (and Debian's stock kernel) with the
// real vmm binary and checks what the guest reports on its console and
// what the process exit status says. Guest boots are slow here (PVM
// emulates the guest kernel, see docs/PVM.md), so each boot serves
// several checks.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/str_split.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
// A boot takes minutes on a PVM host (the guest kernel is emulated;
// docs/PVM.md), and ctest runs two guest tests side by side.
const absl::Duration kBootTimeout = absl::Seconds(600);
const absl::Duration kCommandTimeout = absl::Seconds(60);

class GuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KVM();
    struct stat st;
    ASSERT_EQ(::stat((GuestImageDir() + "/vmlinux").c_str(), &st), 0)
        << "default guest image missing: run guest-images/build.sh";
  }
};

// The number N in the VMM's "--profile-guest: N samples in PATH" log line.
std::optional<uint64_t> ProfileSamplesLogged(const std::string& log) {
  const std::string prefix = "--profile-guest: ";
  size_t at = log.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  absl::string_view rest = absl::string_view(log).substr(at + prefix.size());
  uint64_t n = 0;
  if (!absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &n)) return std::nullopt;
  return n;
}

TEST_F(GuestTest, DefaultGuestWithTwoCpusRunsCommandsAndPowersOff) {
  // The guest is also profiled: the samples are checked after it ends.
  const std::string profile = absl::StrCat(::testing::TempDir(), "/boot-profile-", ::getpid(), ".txt");
  GuestProcess vm({"run", "--cpus", "2", "--memory", "512M", "--profile-guest", profile});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();

  // The VMM's SETUP_RNG_SEED made the guest's RNG ready inside setup_arch(),
  // before start_kernel() prints the command line; without it the pool is
  // credited later (RDRAND at random_init(), or interrupts).
  auto crng = vm.RunCommand("dmesg | grep -e 'crng init done' -e 'Kernel command line:'", kCommandTimeout);
  ASSERT_TRUE(crng.has_value()) << vm.output();
  const size_t ready_at = crng->find("crng init done"), cmdline_at = crng->find("Kernel command line:");
  ASSERT_NE(ready_at, std::string::npos) << *crng;
  ASSERT_NE(cmdline_at, std::string::npos) << *crng;
  EXPECT_LT(ready_at, cmdline_at) << *crng;

  auto sum = vm.RunCommand("echo $((6 * 7))", kCommandTimeout);
  ASSERT_TRUE(sum.has_value()) << vm.output();
  EXPECT_EQ(*sum, "42");

  auto cpus = vm.RunCommand("grep -c ^processor /proc/cpuinfo", kCommandTimeout);
  ASSERT_TRUE(cpus.has_value()) << vm.output();
  EXPECT_EQ(*cpus, "2");

  // On a PVM host the VMM hides what the emulator cannot run; the guest
  // must really not see those features.
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) {
    auto flags = vm.RunCommand("grep -m1 ^flags /proc/cpuinfo", kCommandTimeout);
    ASSERT_TRUE(flags.has_value());
    for (const char* hidden : {" xsave", " popcnt", " smap", " cx16"}) {
      EXPECT_EQ((*flags + " ").find(std::string(hidden) + " "), std::string::npos) << hidden << " in " << *flags;
    }
  }

  auto meminfo = vm.RunCommand("cat /proc/meminfo", kCommandTimeout);
  ASSERT_TRUE(meminfo.has_value());
  EXPECT_GT(MeminfoKib(*meminfo, "MemTotal"), 400u * 1024);

  vm.Send("poweroff\n");
  // Generous: in the sanitizer run on a loaded host this VMM once took over
  // a minute from the guest's "Power down" to its exit; alone it takes
  // seconds. A hang still fails.
  EXPECT_EQ(vm.WaitExit(absl::Seconds(180)), 0) << vm.output() << vm.stderr_text();

  // Samples from both vCPUs, and kernel samples with kernel text on the stack.
  std::ifstream samples(profile);
  std::set<std::string> vcpus;
  size_t lines = 0, kernel_with_stack = 0;
  for (std::string line; std::getline(samples, line); ++lines) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    ASSERT_GE(fields.size(), 3u) << line;
    vcpus.insert(fields[1]);
    if (absl::StartsWith(fields[2], "ffffffff8") && fields.size() > 3) ++kernel_with_stack;
  }
  // Every sample the VMM took is in the file.
  std::optional<uint64_t> logged = ProfileSamplesLogged(vm.stderr_text());
  ASSERT_TRUE(logged.has_value()) << vm.stderr_text();
  EXPECT_EQ(lines, *logged);
  EXPECT_EQ(vcpus, (std::set<std::string>{"0", "1"}));
  EXPECT_GT(kernel_with_stack, lines / 4);
  ::unlink(profile.c_str());
}

TEST_F(GuestTest, GuestLargerThanTheLowHoleUsesRamAboveFourGiB) {
  // 3 GiB below the hole and 256 MiB above 4 GiB: just past the hole, since
  // boot-time memory set-up is emulated and costs time per GiB.
  const uint64_t kMiB = 3328;
  GuestProcess vm({"run", "--memory", "3328M"});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();
  auto meminfo = vm.RunCommand("cat /proc/meminfo", kCommandTimeout);
  ASSERT_TRUE(meminfo.has_value()) << vm.output();
  EXPECT_GE(MeminfoKib(*meminfo, "MemTotal"), kMiB * 1024 * 95 / 100) << *meminfo;
  // The guest itself lists the RAM above 4 GiB.
  auto iomem = vm.RunCommand("grep 'System RAM' /proc/iomem", kCommandTimeout);
  ASSERT_TRUE(iomem.has_value()) << vm.output();
  EXPECT_NE(iomem->find("100000000-10fffffff : System RAM"), std::string::npos) << *iomem;
  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 0) << vm.output() << vm.stderr_text();
}

TEST_F(GuestTest, GuestPanicExitsWithPanicStatus) {
  // No init can be run: the kernel panics, and pvpanic tells the VMM.
  std::string cmdline = "console=ttyS0 rdinit=/no/such/init init=/no/such/init";
  std::ifstream extra(GuestImageDir() + "/cmdline");
  std::string options;
  std::getline(extra, options);
  GuestProcess vm({"run", "--memory", "256M", "--cmdline", cmdline + " " + options});
  EXPECT_EQ(vm.WaitExit(kBootTimeout), 3) << vm.output() << vm.stderr_text();
  EXPECT_NE(vm.output().find("Kernel panic"), std::string::npos) << vm.output();
  EXPECT_NE(vm.stderr_text().find("panicked"), std::string::npos) << vm.stderr_text();
}

TEST_F(GuestTest, TimeoutEndsTheGuestWithTimeoutStatus) {
  GuestProcess vm({"run", "--memory", "256M", "--timeout", "2s"});
  EXPECT_EQ(vm.WaitExit(absl::Seconds(60)), 4) << vm.stderr_text();
  EXPECT_NE(vm.stderr_text().find("--timeout"), std::string::npos) << vm.stderr_text();
}

TEST_F(GuestTest, SigtermStopsTheGuest) {
  GuestProcess vm({"run", "--memory", "256M"});
  absl::SleepFor(absl::Seconds(1));
  vm.Kill(SIGTERM);
  EXPECT_EQ(vm.WaitExit(absl::Seconds(30)), 128 + SIGTERM) << vm.stderr_text();
}

// Debian's stock cloud kernel (a bzImage, decompressed on the host) boots
// until this host's KVM meets an instruction it cannot run; on PVM that
// must be reported clearly, not hang.
TEST_F(GuestTest, StockDebianKernelBootsOrReportsTheEmulatorGap) {
  std::string kernel = SourceDir() + "/tests/stock-kernel/vmlinuz";
  if (::access(kernel.c_str(), R_OK) != 0) {
    if (InCi()) FAIL() << "stock kernel missing: tests/fetch-stock-kernel.sh";
    GTEST_SKIP() << "stock kernel not fetched";
  }
  GuestProcess vm({"run", "--kernel", kernel, "--memory", "512M", "--timeout", "300s", "--cmdline",
                   "console=ttyS0 earlyprintk=serial,ttyS0 loglevel=7"});
  ASSERT_TRUE(vm.WaitFor("Linux version 6.1", absl::Seconds(300))) << vm.output() << vm.stderr_text();
  std::optional<int> status = vm.WaitExit(absl::Seconds(330));
  ASSERT_TRUE(status.has_value());
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) {
    // The emulator gap ends the run as a guest crash, with the RIP and bytes.
    EXPECT_EQ(*status, 5) << vm.stderr_text();
    std::string err = vm.stderr_text();
    EXPECT_NE(err.find("cannot emulate"), std::string::npos) << err;
    EXPECT_NE(err.find("RIP 0x"), std::string::npos) << err;
    EXPECT_NE(err.find("instruction bytes: "), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace tests
