// The launcher's user errors: one clear line on stderr and exit status 2,
// never a crash or a hang.
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
  ExpectUsageError({{"run", "--no-such-flag"}, "Unknown command line flag"});
  ExpectUsageError({{"run", "--console", "tcp:1"}, "--console"});
  ExpectUsageError({{"run", "--timeout", "soon"}, "--timeout"});
  ExpectUsageError({{"run", "--kernel", "/nonexistent/bzImage"}, "cannot read kernel"});
  ExpectUsageError({{"frobnicate"}, "unknown command"});
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
  GuestProcess vmm({"run", "--help"});
  EXPECT_EQ(vmm.WaitExit(absl::Seconds(10)), 0);
  EXPECT_NE(vmm.output().find("usage: vmm run"), std::string::npos);
}

}  // namespace
}  // namespace tests
