// SPDX-License-Identifier: MIT
#include "vmm/cli_flag_check.h"

#include <gtest/gtest.h>

namespace vmm {
namespace {

std::vector<CompletionCommand> Commands() {
  return {{.name = "run",
           .flags = {{"api-socket", true}, {"balloon", false}, {"balloon-size", true}, {"memory", true}}},
          {.name = "ctl", .flags = {{"api-socket", true}, {"json", false}, {"downtime-ms", true}}}};
}

absl::Status Check(const std::string& subcommand, const std::vector<std::string>& args) {
  return CheckSubcommandFlags(subcommand, args, Commands());
}

TEST(CliFlagCheck, OwnFlagsInEverySpellingPass) {
  EXPECT_TRUE(Check("run", {"--memory", "4G", "--balloon", "--balloon-size=1G", "--api_socket", "/s"}).ok());
  EXPECT_TRUE(Check("run", {"-memory=4G", "--noballoon", "--balloon=false"}).ok());
  EXPECT_TRUE(Check("ctl", {"--api-socket", "/s", "migrate", "tls:h:1", "--json"}).ok());
}

TEST(CliFlagCheck, AValueThatLooksLikeAFlagIsAValue) {
  EXPECT_TRUE(Check("run", {"--balloon-size", "-1"}).ok());
}

TEST(CliFlagCheck, EverythingAfterTheSeparatorIsLeftAlone) {
  EXPECT_TRUE(Check("ctl", {"--", "--anything"}).ok());
}

TEST(CliFlagCheck, AnUnknownFlagIsNamedAsTypedWithTheNearestKnownOne) {
  absl::Status st = Check("run", {"--memory", "1G", "--balloon-sise", "1G"});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "unknown flag '--balloon-sise' for 'vmm run' (did you mean --balloon-size?)");
  EXPECT_EQ(Check("run", {"--frobnicate"}).message(), "unknown flag '--frobnicate' for 'vmm run'");
}

TEST(CliFlagCheck, AFlagOfTheOtherSubcommandIsRefusedNamingIt) {
  EXPECT_EQ(Check("run", {"--json"}).message(), "'--json' is a flag of 'vmm ctl', not of 'vmm run'");
  EXPECT_EQ(Check("ctl", {"--memory=4G", "status"}).message(), "'--memory' is a flag of 'vmm run', not of 'vmm ctl'");
  EXPECT_EQ(Check("ctl", {"--noballoon"}).message(), "'--noballoon' is a flag of 'vmm run', not of 'vmm ctl'");
}

}  // namespace
}  // namespace vmm
