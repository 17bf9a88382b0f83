// SPDX-License-Identifier: MIT
#include "vmm/run_options.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

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

TEST_F(RunOptionsTest, DisksInOrderWithReadonlyAndDirect) {
  RunFlags f = Defaults();
  f.disks = {"/img/root.img", "/img/data.img,readonly", "/img/fast.img,direct,readonly"};
  auto config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->devices.disks.size(), 3u);
  EXPECT_EQ(config->devices.disks[0].path, "/img/root.img");
  EXPECT_FALSE(config->devices.disks[0].readonly);
  EXPECT_FALSE(config->devices.disks[0].direct);
  EXPECT_EQ(config->devices.disks[1].path, "/img/data.img");
  EXPECT_TRUE(config->devices.disks[1].readonly);
  EXPECT_FALSE(config->devices.disks[1].direct);
  EXPECT_EQ(config->devices.disks[2].path, "/img/fast.img");
  EXPECT_TRUE(config->devices.disks[2].readonly);
  EXPECT_TRUE(config->devices.disks[2].direct);
  EXPECT_FALSE(config->devices.defer_disk_locks);
  // A migration destination locks its images only once the guest is its.
  f.incoming = "unix:" + dir_ + "/incoming.sock";
  config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->devices.defer_disk_locks);
}

TEST_F(RunOptionsTest, BadDiskNamesWhatWasTyped) {
  for (const std::string& typed : {std::string("/a.img,ro"), std::string(",readonly"), std::string(""),
                                   std::string("/a.img,direct=on"), std::string("/a.img,direct,direct")}) {
    RunFlags f = Defaults();
    f.disks = {typed};
    auto config = BuildMachineConfig(f);
    ASSERT_FALSE(config.ok()) << typed;
    EXPECT_NE(config.status().message().find("--disk '" + typed + "'"), std::string::npos) << config.status();
  }
}

TEST_F(RunOptionsTest, NetsInOrderWithTheirMacs) {
  RunFlags f = Defaults();
  f.nets = {"tap=tap0", "mac=52:54:00:AB:cd:01,tap=tap1"};
  auto config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->devices.nets.size(), 2u);
  EXPECT_EQ(config->devices.nets[0].tap, "tap0");
  EXPECT_FALSE(config->devices.nets[0].mac.has_value());
  EXPECT_EQ(config->devices.nets[1].tap, "tap1");
  EXPECT_EQ(config->devices.nets[1].mac, (devices::MacAddress{0x52, 0x54, 0x00, 0xab, 0xcd, 0x01}));
}

TEST_F(RunOptionsTest, BadNetNamesWhatWasTyped) {
  for (const std::string& typed :
       {std::string(""), std::string("tap0"), std::string("tap="), std::string("tap=a,tap=b"),
        std::string("tap=tap0,mac=52:54:00:12:34"), std::string("tap=tap0,mac=01:00:5e:00:00:01"),
        std::string("tap=tap0,mac=zz:54:00:12:34:56"), std::string("tap=tap0,queues=2"),
        std::string("tap=a-name-too-long-for-linux"), std::string("tap=a/b")}) {
    RunFlags f = Defaults();
    f.nets = {typed};
    auto config = BuildMachineConfig(f);
    ASSERT_FALSE(config.ok()) << typed;
    EXPECT_NE(config.status().message().find("--net '" + typed + "'"), std::string::npos) << config.status();
  }
}

TEST_F(RunOptionsTest, TheSameTapOrMacTwiceIsRefused) {
  RunFlags f = Defaults();
  f.nets = {"tap=tap0", "tap=tap0"};
  auto config = BuildMachineConfig(f);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("tap 'tap0' is given twice"), std::string::npos) << config.status();
  f.nets = {"tap=tap0,mac=02:00:00:00:00:01", "tap=tap1,mac=02:00:00:00:00:01"};
  config = BuildMachineConfig(f);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("02:00:00:00:00:01 is given twice"), std::string::npos)
      << config.status();
}

TEST(TakeRepeatedFlagTest, TakesEveryFormInOrderAndLeavesTheRest) {
  std::vector<std::string> args = {"vmm", "--disk", "a.img", "--memory", "1G", "--disk=b.img,readonly",
                                   "--cpus=2", "--", "--disk", "c.img"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  std::vector<std::string> disks = TakeRepeatedFlag("--disk", argc, argv.data());
  EXPECT_EQ(disks, (std::vector<std::string>{"a.img", "b.img,readonly"}));
  ASSERT_EQ(argc, 7);
  EXPECT_EQ(std::string(argv[1]), "--memory");
  EXPECT_EQ(std::string(argv[3]), "--cpus=2");
  EXPECT_EQ(std::string(argv[4]), "--");
  EXPECT_EQ(std::string(argv[5]), "--disk");  // after "--": not a flag
  // A trailing --disk without a value stays for the parser to refuse.
  std::vector<std::string> tail = {"vmm", "--disk"};
  std::vector<char*> tail_argv = {tail[0].data(), tail[1].data()};
  int tail_argc = 2;
  EXPECT_TRUE(TakeRepeatedFlag("--disk", tail_argc, tail_argv.data()).empty());
  EXPECT_EQ(tail_argc, 2);
}

TEST(TakeRepeatedFlagTest, TakesOnlyTheNamedFlag) {
  std::vector<std::string> args = {"vmm", "--net", "tap=t0", "--disk", "a.img", "--net=tap=t1", "--network=x"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  EXPECT_EQ(TakeRepeatedFlag("--net", argc, argv.data()), (std::vector<std::string>{"tap=t0", "tap=t1"}));
  ASSERT_EQ(argc, 4);
  EXPECT_EQ(std::string(argv[1]), "--disk");
  EXPECT_EQ(std::string(argv[3]), "--network=x");
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
  f = Defaults();
  f.seccomp = "strict";
  expect_error(f, "--seccomp must be 'on', 'log' or 'off', not 'strict'");
}

TEST_F(RunOptionsTest, SeccompModes) {
  EXPECT_EQ(BuildMachineConfig(Defaults())->seccomp, seccomp::DefaultSeccompMode());
  for (auto [text, mode] : {std::pair{"on", seccomp::SeccompMode::kOn}, std::pair{"log", seccomp::SeccompMode::kLog},
                            std::pair{"off", seccomp::SeccompMode::kOff}}) {
    RunFlags f = Defaults();
    f.seccomp = text;
    absl::StatusOr<MachineConfig> config = BuildMachineConfig(f);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->seccomp, mode) << text;
  }
}

TEST_F(RunOptionsTest, ApiSocketModeIsOctalUpTo0777) {
  EXPECT_EQ(BuildMachineConfig(Defaults())->api_socket_mode, 0600u);
  for (auto [text, mode] : {std::pair{"0660", 0660u}, std::pair{"600", 0600u}, std::pair{"0", 0u}}) {
    RunFlags f = Defaults();
    f.api_socket_mode = text;
    absl::StatusOr<MachineConfig> config = BuildMachineConfig(f);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->api_socket_mode, mode) << text;
  }
  for (const char* bad : {"", "rw", "0800", "4755", "01777", "0x180", "-1", "00600"}) {
    RunFlags f = Defaults();
    f.api_socket_mode = bad;
    absl::StatusOr<MachineConfig> config = BuildMachineConfig(f);
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_NE(config.status().message().find(absl::StrCat("--api-socket-mode must be an octal mode up to 0777 like 0600 or 0660, not '", bad, "'")),
              absl::string_view::npos)
        << config.status();
  }
}

}  // namespace
}  // namespace vmm

namespace vmm {
namespace {

class BalloonChunksAndBackendOptionsTest : public RunOptionsTest {};

TEST_F(BalloonChunksAndBackendOptionsTest, ChunksAreOfferedUnlessTurnedOff) {
  auto config = BuildMachineConfig(Defaults());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->devices.balloon_chunks);
  EXPECT_EQ(config->memory_backend, memory::MemoryBackend::kMemfd);
  RunFlags f = Defaults();
  f.balloon_chunks = "false";
  config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->devices.balloon_chunks);
  for (const char* bad : {"yes", "1", "", "TRUE"}) {
    f.balloon_chunks = bad;
    config = BuildMachineConfig(f);
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_NE(config.status().message().find(std::string("--balloon-chunks must be 'true' or 'false', not '") + bad +
                                             "'"),
              std::string::npos)
        << config.status();
  }
}

TEST_F(BalloonChunksAndBackendOptionsTest, MemoryBackendIsParsedWithAClearError) {
  RunFlags f = Defaults();
  f.memory_backend = "hugetlb";
  auto config = BuildMachineConfig(f);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->memory_backend, memory::MemoryBackend::kHugetlb);
  f.memory_backend = "thp";
  EXPECT_EQ(BuildMachineConfig(f)->memory_backend, memory::MemoryBackend::kThp);
  f.memory_backend = "1G-pages";
  config = BuildMachineConfig(f);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--memory-backend must be 'memfd', 'thp' or 'hugetlb', not '1G-pages'"),
            std::string::npos)
      << config.status();
}

}  // namespace
}  // namespace vmm
