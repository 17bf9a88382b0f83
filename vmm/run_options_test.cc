#include "vmm/run_options.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace vmm {
namespace {

class RunOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Per process: ctest -j2 runs these tests side by side, and each
    // rewrites the files.
    dir_ = ::testing::TempDir() + "/run_options_test-" + std::to_string(::getpid());
    ::mkdir(dir_.c_str(), 0755);
    std::ofstream(dir_ + "/vmlinux") << "x";
    std::ofstream(dir_ + "/initramfs.cpio") << "x";
    std::ofstream(dir_ + "/cmdline") << "quiet rodata=off\n";
  }
  RunFlags Defaults() { return RunFlags{.guest_image_dir = dir_, .host_memory_bytes = 8ull << 30}; }
  std::string dir_;
};

TEST_F(RunOptionsTest, DefaultsUseTheGuestImage) {
  auto config = BuildMachineConfig(Defaults());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kernel_path, dir_ + "/vmlinux");
  EXPECT_EQ(config->initrd_path, dir_ + "/initramfs.cpio");
  EXPECT_EQ(config->cmdline, "console=ttyS0 quiet rodata=off");
  EXPECT_EQ(config->memory_size, 512ull << 20);
  EXPECT_EQ(config->cpus, 1u);
  EXPECT_EQ(config->timeout, absl::InfiniteDuration());
  EXPECT_TRUE(config->migration_write_tracking);
}

TEST_F(RunOptionsTest, ExplicitValues) {
  RunFlags f = Defaults();
  f.kernel = dir_ + "/vmlinux";
  f.cmdline = "console=ttyS0 panic=1";
  f.memory = "4G";
  f.cpus = 2;
  f.console = "file:/tmp/x.log";
  f.timeout = "90s";
  f.migration_write_tracking = false;
  auto config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->initrd_path, "");
  EXPECT_EQ(config->cmdline, "console=ttyS0 panic=1");
  EXPECT_EQ(config->memory_size, 4ull << 30);
  EXPECT_EQ(config->console.output_file, "/tmp/x.log");
  EXPECT_EQ(config->timeout, absl::Seconds(90));
  EXPECT_FALSE(config->migration_write_tracking);
}

TEST_F(RunOptionsTest, DeviceFlags) {
  RunFlags f = Defaults();
  f.balloon_size = "128M";
  f.balloon_deflate_on_oom = true;
  f.balloon_reporting = false;
  f.virtio_notify = "thread";
  auto config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->devices.balloon);
  EXPECT_EQ(config->devices.balloon_size, 128ull << 20);
  EXPECT_TRUE(config->devices.balloon_deflate_on_oom);
  EXPECT_FALSE(config->devices.balloon_reporting);
  EXPECT_EQ(config->devices.virtio_notify, VirtioNotifyMode::kDeviceThread);
  f.virtio_notify = "elsewhere";
  EXPECT_FALSE(BuildMachineConfig(f).ok());
}

TEST_F(RunOptionsTest, ClearErrors) {
  auto expect_error = [&](RunFlags f, const std::string& fragment) {
    auto config = BuildMachineConfig(f);
    ASSERT_FALSE(config.ok());
    EXPECT_NE(std::string(config.status().message()).find(fragment), std::string::npos)
        << config.status();
  };
  RunFlags f = Defaults();
  f.memory = "12X";
  expect_error(f, "--memory");
  f = Defaults();
  f.memory = "16M";
  expect_error(f, "too small");
  f = Defaults();
  f.memory = "64G";
  expect_error(f, "more than this host");
  f = Defaults();
  f.memory = "513M";
  expect_error(f, "multiple of 2M");
  f = Defaults();
  f.cpus = 0;
  expect_error(f, "--cpus");
  f = Defaults();
  f.cpus = 256;
  expect_error(f, "--cpus must be between 1 and 255, not 256");
  f = Defaults();
  f.balloon_size = "lots";
  expect_error(f, "--balloon-size");
  f = Defaults();
  f.balloon_size = "1536K";
  expect_error(f, "--balloon-size 1536K must be whole MiB");
  f = Defaults();
  f.balloon_size = "512M";
  expect_error(f, "--balloon-size 512M must be below --memory 512M");
  f = Defaults();
  f.balloon = false;
  f.balloon_size = "64M";
  expect_error(f, "needs the balloon");
  f = Defaults();
  f.console = "tcp:1";
  expect_error(f, "--console");
  f = Defaults();
  f.timeout = "soon";
  expect_error(f, "--timeout");
  f = Defaults();
  f.kernel = "/nonexistent/bzImage";
  expect_error(f, "cannot read kernel");
  f = Defaults();
  f.kernel = dir_ + "/vmlinux";
  f.initrd = "/nonexistent/initrd";
  expect_error(f, "cannot read initrd");
  f = Defaults();
  f.guest_image_dir = "/nonexistent";
  expect_error(f, "guest-images/build.sh");
}

}  // namespace
}  // namespace vmm
