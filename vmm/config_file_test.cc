// SPDX-License-Identifier: MIT
#include "vmm/config_file.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vmm {
namespace {

absl::Status Apply(absl::string_view text, RunFlags& flags, const std::set<std::string>& given = {}) {
  return ApplyConfigJson(text, "vm.json", given, flags);
}

TEST(ConfigFile, SetsEveryKindOfField) {
  RunFlags flags;
  ASSERT_TRUE(Apply(R"({"kernel": "/k", "cmdline": "quiet", "memory": "2G", "cpus": 4,
                        "api_socket": "/run/vmm/a.sock", "balloon": false, "balloon-reporting": false,
                        "virtio_notify": "thread", "seccomp": "log"})",
                    flags).ok());
  EXPECT_EQ(flags.kernel, "/k");
  EXPECT_EQ(flags.cmdline, "quiet");
  EXPECT_EQ(flags.memory, "2G");
  EXPECT_EQ(flags.cpus, 4);
  EXPECT_EQ(flags.api_socket, "/run/vmm/a.sock");
  EXPECT_FALSE(flags.balloon);
  EXPECT_FALSE(flags.balloon_reporting);  // the dashed spelling works too
  EXPECT_EQ(flags.virtio_notify, "thread");
  EXPECT_EQ(flags.seccomp, "log");
  EXPECT_EQ(flags.console, "stdio");  // absent: left as it was
}

TEST(ConfigFile, DisksAreAnArrayOfStrings) {
  RunFlags flags;
  ASSERT_TRUE(Apply(R"({"disk": ["/a.img", "/b.img,readonly"]})", flags).ok());
  EXPECT_EQ(flags.disks, (std::vector<std::string>{"/a.img", "/b.img,readonly"}));
  absl::Status single = Apply(R"({"disk": "/a.img"})", flags);
  EXPECT_NE(single.message().find("\"disk\" must be an array of strings"), std::string::npos) << single;
  EXPECT_FALSE(Apply(R"({"disk": ["/a.img", 3]})", flags).ok());
  // --print-config writes it back as it reads it.
  EXPECT_EQ(nlohmann::json::parse(ConfigJson(flags))["disk"], nlohmann::json::array({"/a.img", "/b.img,readonly"}));
}

TEST(ConfigFile, NetsAreAnArrayOfStrings) {
  RunFlags flags;
  ASSERT_TRUE(Apply(R"({"net": ["tap=tap0", "tap=tap1,mac=02:00:00:00:00:01"]})", flags).ok());
  EXPECT_EQ(flags.nets, (std::vector<std::string>{"tap=tap0", "tap=tap1,mac=02:00:00:00:00:01"}));
  EXPECT_EQ(nlohmann::json::parse(ConfigJson(flags))["net"],
            nlohmann::json::array({"tap=tap0", "tap=tap1,mac=02:00:00:00:00:01"}));
}

TEST(ConfigFile, FlagsGivenOnTheCommandLineWin) {
  RunFlags flags;
  flags.memory = "1G";  // as the command line set it
  ASSERT_TRUE(Apply(R"({"memory": "4G", "cpus": 2})", flags, {"memory"}).ok());
  EXPECT_EQ(flags.memory, "1G");
  EXPECT_EQ(flags.cpus, 2);
}

TEST(ConfigFile, ErrorsNameTheKeyAsWrittenAndTheFile) {
  RunFlags flags;
  absl::Status unknown = Apply(R"({"memroy": "1G"})", flags);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("vm.json: unknown field \"memroy\""), std::string::npos) << unknown;

  absl::Status type = Apply(R"({"cpus": "two"})", flags);
  EXPECT_NE(type.message().find("\"cpus\" must be an integer, not \"two\""), std::string::npos) << type;
  absl::Status boolean = Apply(R"({"balloon-reporting": 1})", flags);
  EXPECT_NE(boolean.message().find("\"balloon-reporting\" must be true or false"), std::string::npos) << boolean;
  absl::Status string = Apply(R"({"memory": 1024})", flags);
  EXPECT_NE(string.message().find("\"memory\" must be a string"), std::string::npos) << string;

  EXPECT_NE(Apply("{\"memory\": ", flags).message().find("vm.json: not valid JSON"), std::string::npos);
  EXPECT_NE(Apply("[1, 2]", flags).message().find("not a JSON object"), std::string::npos);
}

TEST(ConfigFile, MissingFileIsNamed) {
  RunFlags flags;
  absl::Status status = ApplyConfigFile("/nonexistent/vm.json", {}, flags);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("/nonexistent/vm.json"), std::string::npos) << status;
}

TEST(ConfigFile, ReadsAFile) {
  std::string path = ::testing::TempDir() + "/config_file_test-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"memory": "3G", "timeout": "5m"})";
  RunFlags flags;
  ASSERT_TRUE(ApplyConfigFile(path, {}, flags).ok());
  EXPECT_EQ(flags.memory, "3G");
  EXPECT_EQ(flags.timeout, "5m");
  ::unlink(path.c_str());
}

TEST(ConfigFile, PrintedConfigReadsBackToTheSameFlags) {
  RunFlags original{.kernel = "/boot/vmlinuz", .memory = "1G", .cpus = 3, .balloon_deflate_on_oom = true};
  original.cmdline = "console=ttyS0 quiet";
  std::string printed = ConfigJson(original);
  nlohmann::json parsed = nlohmann::json::parse(printed);
  EXPECT_EQ(parsed["memory"], "1G");
  EXPECT_EQ(parsed["cpus"], 3);
  EXPECT_EQ(parsed["balloon_deflate_on_oom"], true);

  RunFlags read_back;
  ASSERT_TRUE(Apply(printed, read_back).ok()) << printed;
  EXPECT_EQ(ConfigJson(read_back), printed);
}

TEST(ConfigFile, UnsetCmdlineIsLeftOutOfThePrintedConfig) {
  EXPECT_EQ(nlohmann::json::parse(ConfigJson(RunFlags{})).count("cmdline"), 0u);
}

TEST(ConfigFile, FlagsGivenAreReadFromArgvInEveryForm) {
  std::vector<std::string> args = {"vmm", "--memory", "1G", "--api-socket=/s", "--noballoon",
                                   "--cpus=2", "kernel", "--", "--timeout"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::set<std::string> given = FlagsGivenOnCommandLine(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(given.count("memory"), 1u);
  EXPECT_EQ(given.count("api_socket"), 1u);
  EXPECT_EQ(given.count("balloon"), 1u);
  EXPECT_EQ(given.count("cpus"), 1u);
  EXPECT_EQ(given.count("kernel"), 0u);   // a positional word, not a flag
  EXPECT_EQ(given.count("timeout"), 0u);  // after "--"
}

}  // namespace
}  // namespace vmm
