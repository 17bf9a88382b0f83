// SPDX-License-Identifier: MIT
// virtio-blk with the real Linux driver: the default guest gets an ext4
// image (made on the host with mkfs.ext4 -d) as --disk, mounts /dev/vda,
// writes a file, syncs and powers off; the host reads the file back from
// the image with debugfs; and the same kind of image as the guest's root
// file system, booted without an initramfs. Needs CONFIG_VIRTIO_BLK and CONFIG_EXT4_FS in
// the guest kernel (guest-images/kernel.config) and e2fsprogs on the host.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
const absl::Duration kBootTimeout = absl::Seconds(600);
const absl::Duration kCommandTimeout = absl::Seconds(120);


TEST(DiskGuestTest, GuestWritesAFileOnExt4AndTheHostReadsItBack) {
  REQUIRE_KVM();
  if (!HostCommand("command -v mkfs.ext4 && command -v debugfs").has_value()) {
    GTEST_SKIP() << "e2fsprogs (mkfs.ext4, debugfs) not installed";
  }
  const std::string dir = absl::StrCat(::testing::TempDir(), "/disk-guest-", ::getpid());
  const std::string image = dir + "/root.img";
  ASSERT_TRUE(HostCommand(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, "/tree && echo from-the-host > ", dir,
                                       "/tree/host.txt && mkfs.ext4 -q -F -d ", dir, "/tree ", image, " 32M"))
                  .has_value());

  GuestProcess vm({"run", "--memory", "512M", "--disk", image});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();
  auto seen = vm.RunCommand("mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && cat /mnt/host.txt", kCommandTimeout);
  ASSERT_TRUE(seen.has_value()) << vm.output();
  EXPECT_NE(seen->find("from-the-host"), std::string::npos) << *seen;
  // RunCommand returns the output whether or not the line succeeded: only the
  // last word says that the write, the flush and the unmount all worked.
  auto written = vm.RunCommand(
      "echo written-by-the-guest > /mnt/guest.txt && sync && umount /mnt && echo unmounted", kCommandTimeout);
  ASSERT_TRUE(written.has_value()) << vm.output();
  EXPECT_NE(written->find("unmounted"), std::string::npos) << *written;
  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(120)), 0) << vm.output() << vm.stderr_text();

  std::optional<std::string> back = HostCommand(absl::StrCat("debugfs -R 'cat /guest.txt' ", image, " 2>/dev/null"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, "written-by-the-guest\n");
  (void)HostCommand(absl::StrCat("rm -rf ", dir));
}

// The guest's root file system on --disk: the default image's files (its
// initramfs unpacked on the host) in an ext4 image, booted with no initramfs
// and root=/dev/vda; the guest writes a file on its root and the host reads it
// back.
TEST(DiskGuestTest, GuestBootsWithItsRootFileSystemOnTheDisk) {
  REQUIRE_KVM();
  if (!HostCommand("command -v mkfs.ext4 && command -v debugfs && command -v e2fsck && command -v cpio").has_value()) {
    GTEST_SKIP() << "e2fsprogs (mkfs.ext4, debugfs, e2fsck) or cpio not installed";
  }
  const std::string dir = absl::StrCat(::testing::TempDir(), "/disk-root-", ::getpid());
  const std::string image = dir + "/root.img";
  ASSERT_TRUE(HostCommand(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, "/tree && cd ", dir,
                                       "/tree && cpio -idm --quiet < ", GuestImageDir(),
                                       "/initramfs.cpio && echo root-from-the-host > ", dir,
                                       "/tree/marker.txt && mkfs.ext4 -q -F -d ", dir, "/tree ", image, " 64M"))
                  .has_value());

  // A --cmdline replaces the image's, so it names the console itself.
  GuestProcess vm({"run", "--memory", "512M", "--kernel", GuestImageDir() + "/vmlinux", "--cmdline",
                   "console=ttyS0 quiet root=/dev/vda rw rootfstype=ext4 init=/init", "--disk", image});
  ASSERT_TRUE(vm.WaitFor(kReadyMarker, kBootTimeout)) << vm.output() << vm.stderr_text();
  // The root is the disk, not an initramfs.
  auto root = vm.RunCommand("grep ' / ' /proc/mounts; cat /marker.txt", kCommandTimeout);
  ASSERT_TRUE(root.has_value()) << vm.output();
  EXPECT_NE(root->find(" / ext4 "), std::string::npos) << *root;
  EXPECT_NE(root->find("root-from-the-host"), std::string::npos) << *root;
  auto written = vm.RunCommand("echo written-on-the-root > /guest.txt && sync && echo synced", kCommandTimeout);
  ASSERT_TRUE(written.has_value()) << vm.output();
  EXPECT_NE(written->find("synced"), std::string::npos) << *written;
  vm.Send("poweroff -f\n");
  EXPECT_EQ(vm.WaitExit(absl::Seconds(120)), 0) << vm.output() << vm.stderr_text();

  // The root cannot be unmounted before the hard power-off, so after its
  // sync the new file may be only in ext4's journal, which debugfs does not
  // read: e2fsck replays the journal first, as the guest's next mount would.
  std::optional<std::string> back = HostCommand(absl::StrCat("e2fsck -fy ", image, " >/dev/null 2>&1; debugfs -R 'cat /guest.txt' ",
                                                             image, " 2>/dev/null"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, "written-on-the-root\n");
  (void)HostCommand(absl::StrCat("rm -rf ", dir));
}

}  // namespace
}  // namespace tests
