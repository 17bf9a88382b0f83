// SPDX-License-Identifier: MIT
// The launcher's user errors: one clear line on stderr and exit status 2,
// never a crash or a hang.
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/guest_process.h"

namespace tests {
namespace {

struct Case {
  std::vector<std::string> args;
  std::string expected;
};

void ExpectUsageError(const Case& c) {
  GuestProcess vmm(c.args);
  std::optional<int> status = vmm.WaitExit(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2) << vmm.stderr_text();
  EXPECT_NE(vmm.stderr_text().find(c.expected), std::string::npos) << vmm.stderr_text();
}

TEST(Cli, BadValuesExitTwoWithAClearLine) {
  ExpectUsageError({{"run", "--memory", "12X"}, "--memory"});
  ExpectUsageError({{"run", "--memory", "16M"}, "too small"});
  ExpectUsageError({{"run", "--memory", "100T"}, "more than this host"});
  ExpectUsageError({{"run", "--cpus", "0"}, "--cpus"});
  ExpectUsageError({{"run", "--cpus", "two"}, "cpus"});
  ExpectUsageError({{"run", "--no-such-flag"}, "unknown flag '--no-such-flag' for 'vmm run'"});
  ExpectUsageError({{"run", "--balloon-sise", "1G"}, "unknown flag '--balloon-sise' for 'vmm run' (did you mean --balloon-size?)"});
  ExpectUsageError({{"run", "--json"}, "'--json' is a flag of 'vmm ctl', not of 'vmm run'"});
  ExpectUsageError({{"ctl", "--memory", "4G", "status"}, "'--memory' is a flag of 'vmm run', not of 'vmm ctl'"});
  ExpectUsageError({{"ctl", "status"}, "vmm ctl needs --api-socket PATH"});
  ExpectUsageError({{"run", "--console", "tcp:1"}, "--console"});
  ExpectUsageError({{"run", "--timeout", "soon"}, "--timeout"});
  ExpectUsageError({{"run", "--kernel", "/nonexistent/bzImage"}, "cannot read kernel"});
  ExpectUsageError({{"frobnicate"}, "unknown command"});
}

// --net: a bad value is named as typed; a tap that exists as something
// else (here a tun device, in a network namespace of its own) is named
// with the likely cause.
TEST(Cli, BadNetExitsTwoNamingWhatWasTyped) {
  ExpectUsageError({{"run", "--net", "tap=t0,mac=zz"}, "--net 'tap=t0,mac=zz': MAC address 'zz'"});
  ExpectUsageError({{"run", "--net", "mac=52:54:00:12:34:56"}, "--net 'mac=52:54:00:12:34:56': no tap=NAME"});
  ExpectUsageError({{"run", "--net", "tap=t0", "--net=tap=t0"}, "tap 't0' is given twice"});
  if (::geteuid() != 0) GTEST_SKIP() << "a tap of its own needs root";
  GuestProcess vmm({"unshare", "-n", "sh", "-c", "ip tuntap add vmmtun0 mode tun && exec \"$0\" \"$@\""},
                   {"run", "--net", "tap=vmmtun0"});
  std::optional<int> status = vmm.WaitExit(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2) << vmm.stderr_text();
  EXPECT_NE(vmm.stderr_text().find("cannot open tap 'vmmtun0'"), std::string::npos) << vmm.stderr_text();
  EXPECT_NE(vmm.stderr_text().find("vnet_hdr"), std::string::npos) << vmm.stderr_text();
}

// --disk: an unknown option is named as typed; `direct` on tmpfs, which
// has no direct I/O, names the image and the way out.
TEST(Cli, BadDiskExitsTwoNamingWhatWasTyped) {
  ExpectUsageError({{"run", "--disk", "/a.img,direct=on"}, "--disk '/a.img,direct=on': unknown option 'direct=on'"});
  ExpectUsageError({{"run", "--disk", "/a.img,direct,direct"}, "'direct' is given twice"});
  REQUIRE_KVM();  // the image is opened once the VM exists
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) GTEST_SKIP() << "no tmpfs at /dev/shm";
  const std::string image = "/dev/shm/vmm-cli-direct-" + std::to_string(::getpid()) + ".img";
  { std::ofstream create(image); }
  std::filesystem::resize_file(image, 1 << 20);
  ExpectUsageError({{"run", "--memory", "256M", "--disk", image + ",direct"},
                    "disk image " + image + " is on tmpfs, which keeps every file in memory and has no direct I/O: "
                    "drop ',direct'"});
  std::filesystem::remove(image);
}

// The migration transport is checked when `vmm run` starts, before KVM:
// plain tcp beyond loopback, tls without credentials, and each bad
// --tls-dir file named.
TEST(Cli, MigrationTransportErrorsExitTwoWithAClearLine) {
  ExpectUsageError({{"run", "--incoming", "tcp:10.0.0.2:7000"}, "--insecure"});
  ExpectUsageError({{"run", "--incoming", "tcp:0.0.0.0:7000"}, "unencrypted"});
  ExpectUsageError({{"run", "--incoming", "tls:0.0.0.0:7000"}, "--tls-dir"});
  ExpectUsageError({{"run", "--incoming", "udp:1.2.3.4:5"}, "--incoming"});
  ExpectUsageError({{"run", "--incoming", "unix:/tmp/x", "--incoming-timeout", "soon"}, "--incoming-timeout"});
  ExpectUsageError({{"run", "--incoming-timeout", "5s"}, "--incoming-timeout needs --incoming"});
  ExpectUsageError({{"run", "--tls-peer-name", "dest.example"}, "--tls-peer-name needs --tls-dir"});
  ExpectUsageError({{"run", "--tls-dir", "/nonexistent/tls", "--incoming", "tls:0.0.0.0:7000"},
                    "--tls-dir '/nonexistent/tls' is not a directory"});
  const std::string empty_dir = ::testing::TempDir() + "/cli-test-empty-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(empty_dir);
  ExpectUsageError({{"run", "--tls-dir", empty_dir, "--incoming", "tls:0.0.0.0:7000"}, empty_dir + "/ca-cert.pem"});
  std::ofstream(empty_dir + "/ca-cert.pem") << "not a certificate\n";
  for (const char* name : {"server-cert.pem", "server-key.pem", "client-cert.pem", "client-key.pem"}) {
    std::ofstream(empty_dir + "/" + name) << "junk\n";
  }
  ExpectUsageError({{"run", "--tls-dir", empty_dir}, "ca-cert.pem: not a PEM CA certificate"});
  std::filesystem::remove_all(empty_dir);
}

TEST(Cli, CorruptKernelIsRejectedClearly) {
  // The kernel is parsed into the VM's memory, after KVM is opened.
  REQUIRE_KVM();
  std::string path = ::testing::TempDir() + "/corrupt-kernel";
  {
    std::ofstream f(path, std::ios::binary);
    std::string junk(65536, '\x5a');
    f << junk;
  }
  ExpectUsageError({{"run", "--kernel", path, "--memory", "256M"}, path});
  // A bzImage header with a truncated payload.
  std::string truncated = ::testing::TempDir() + "/truncated-bzimage";
  {
    std::ifstream stock(SourceDir() + "/tests/stock-kernel/vmlinuz", std::ios::binary);
    if (!stock) GTEST_SKIP() << "stock kernel not fetched (tests/fetch-stock-kernel.sh)";
    std::string data(100000, '\0');
    stock.read(data.data(), static_cast<std::streamsize>(data.size()));
    std::ofstream(truncated, std::ios::binary) << data;
  }
  ExpectUsageError({{"run", "--kernel", truncated, "--memory", "256M"}, truncated});
}

TEST(Cli, HelpExitsZero) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"run", "--help"},
                                               {"ctl", "--help"},
                                               {"run", "--helpshort"},
                                               {"ctl", "--helpfull"},
                                               {"--help"}}) {
    GuestProcess vmm(args);
    EXPECT_EQ(vmm.WaitExit(absl::Seconds(10)), 0) << args[0] << " " << args.back();
    EXPECT_NE(vmm.output().find("usage: vmm run"), std::string::npos) << args.back();
    EXPECT_NE(vmm.output().find("vmm ctl --api-socket PATH"), std::string::npos) << args.back();
  }
}

// Runs without KVM: only the binary's own output is checked.
TEST(Cli, VersionExitsZeroWithTheProjectVersion) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, {"run", "--version"}, {"ctl", "--version"}}) {
    GuestProcess vmm(args);
    EXPECT_EQ(vmm.WaitExit(absl::Seconds(10)), 0) << args[0] << vmm.stderr_text();
    EXPECT_EQ(vmm.output().rfind(std::string("vmm ") + VMM_PROJECT_VERSION, 0), 0u) << vmm.output();
    EXPECT_EQ(vmm.output().back(), '\n') << vmm.output();
  }
}

// Runs without KVM: --print-config stops before the VM is made.
TEST(Cli, ConfigFileWithFlagsOverridingItPrintsTheMergedConfig) {
  std::string path = ::testing::TempDir() + "/cli_test-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"kernel": "/srv/vm/bzImage", "memory": "2G", "cpus": 2, "balloon-reporting": false})";
  GuestProcess vmm({"run", "--config", path, "--cpus", "3", "--print-config"});
  EXPECT_EQ(vmm.WaitExit(absl::Seconds(10)), 0) << vmm.stderr_text();
  for (const char* expected : {"\"kernel\": \"/srv/vm/bzImage\"", "\"memory\": \"2G\"", "\"cpus\": 3",
                               "\"balloon_reporting\": false"}) {
    EXPECT_NE(vmm.output().find(expected), std::string::npos) << expected << " in " << vmm.output();
  }
  ::unlink(path.c_str());
}

TEST(Cli, BadConfigFileExitsTwoNamingWhatIsWrong) {
  std::string path = ::testing::TempDir() + "/cli_test-bad-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"memroy": "2G"})";
  ExpectUsageError({{"run", "--config", path}, "unknown field \"memroy\""});
  ExpectUsageError({{"run", "--config", "/nonexistent/vm.json"}, "cannot read config file /nonexistent/vm.json"});
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace tests
