// SPDX-License-Identifier: MIT
// The kernel's TLS record layer (kTLS), which no host kernel here has
// (CONFIG_TLS is off in these PVM hosts' kernels), run where it exists: the
// default guest's kernel has CONFIG_TLS. The host copies the build's
// migration_test, its shared libraries and the dynamic loader into an ext4
// image; the guest mounts it and runs the migration-over-TLS unit test on
// its loopback with VMM_EXPECT_KTLS=1, so each end must hand its sending
// side to the kernel (pages then leave by writev, encrypted by the kernel,
// not copied through OpenSSL). The guest's /proc/net/tls_stat must show the
// kernel's software kTLS sessions and no decryption errors.
//
// Debian 12's OpenSSL 3.0 hands only the sending side of TLS 1.3 to the
// kernel ("ktls-send"); a newer OpenSSL may take both ("ktls").
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
const absl::Duration kBootTimeout = absl::Seconds(600);
const absl::Duration kCommandTimeout = absl::Seconds(120);
// The kernel's AES-GCM runs emulated in the guest (docs/PVM.md).
const absl::Duration kTestTimeout = absl::Seconds(900);


// A counter of /proc/net/tls_stat ("TlsTxSw"), or -1 when absent.
int64_t TlsStat(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t value;
    if (words.size() == 2 && words[0] == name && absl::SimpleAtoi(words[1], &value)) return value;
  }
  return -1;
}

TEST(KtlsGuestTest, AMigrationStreamLeavesThroughTheKernelsRecordLayer) {
  REQUIRE_KVM();
  if (!HostCommand("command -v mkfs.ext4 && command -v objcopy && command -v ldd").has_value()) {
    GTEST_SKIP() << "mkfs.ext4 (e2fsprogs), objcopy (binutils) or ldd not installed";
  }
  const std::string dir = absl::StrCat(::testing::TempDir(), "/ktls-guest-", ::getpid());
  const std::string image = dir + "/tools.img";
  // The test binary without its debug sections, every library ldd names,
  // and the loader (run explicitly in the guest, which has no /lib64).
  const std::string stage = absl::StrCat(
      "set -e; rm -rf ", dir, "; mkdir -p ", dir, "/tree/lib; cd ", dir, "/tree; ",
      "objcopy --strip-debug ", MIGRATION_TEST_BINARY, " migration_test; ",
      "for lib in $(ldd migration_test | awk '/=> \\//{print $3} /^\\s*\\/lib/{print $1}'); do ",
      "cp -L \"$lib\" lib/; done; cp -L /lib64/ld-linux-x86-64.so.2 lib/; ",
      "mb=$(du -sm . | cut -f1); mkfs.ext4 -q -F -d . ", image, " $((mb * 5 / 4 + 16))M; echo staged");
  std::optional<std::string> staged = HostCommand(stage);
  ASSERT_TRUE(staged.has_value() && staged->find("staged") != std::string::npos) << stage;

  GuestProcess vm({"run", "--memory", "1G", "--disk", image});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();
  auto mounted = vm.RunCommand(
      "mkdir -p /mnt /tmp && mount -t ext4 -o ro /dev/vda /mnt && ip link set lo up && echo mounted-and-up",
      kCommandTimeout);
  ASSERT_TRUE(mounted.has_value() && mounted->find("mounted-and-up") != std::string::npos) << vm.output();

  auto run = vm.RunCommand(
      "cd /tmp && VMM_EXPECT_KTLS=1 /mnt/lib/ld-linux-x86-64.so.2 --library-path /mnt/lib /mnt/migration_test "
      "--gtest_filter=TlsTest.AMigrationArrivesOverTheRecordLayerThisKernelOffers 2>&1; echo \"exit=$?\"",
      kTestTimeout);
  ASSERT_TRUE(run.has_value()) << vm.output();
  std::printf("%s", run->c_str());  // the record layer each end got
  EXPECT_NE(run->find("[  PASSED  ] 1 test"), std::string::npos) << *run;
  EXPECT_NE(run->find("exit=0"), std::string::npos) << *run;
  EXPECT_NE(run->find("record layer: source ktls"), std::string::npos) << *run;

  auto stats = vm.RunCommand("cat /proc/net/tls_stat", kCommandTimeout);
  ASSERT_TRUE(stats.has_value()) << vm.output();
  // Both ends' sending sides went to the kernel's software kTLS.
  EXPECT_GE(TlsStat(*stats, "TlsTxSw"), 2) << *stats;
  EXPECT_EQ(TlsStat(*stats, "TlsDecryptError"), 0) << *stats;

  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(120)), 0) << vm.output() << vm.stderr_text();
  (void)HostCommand(absl::StrCat("rm -rf ", dir));
}

}  // namespace
}  // namespace tests
