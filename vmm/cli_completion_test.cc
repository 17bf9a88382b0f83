// SPDX-License-Identifier: MIT
#include "vmm/cli_completion.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, completion_test_path, "", "A test flag that takes a value");
ABSL_FLAG(bool, completion_test_switch, false, "A boolean test flag");
ABSL_FLAG(int, completion_test_rounds, 1, "vmm ctl migrate: a test flag of the ctl subcommand");

namespace vmm {
namespace {

const CompletionCommand* Find(const std::vector<CompletionCommand>& commands, const std::string& name) {
  auto it = std::find_if(commands.begin(), commands.end(), [&](const auto& c) { return c.name == name; });
  return it == commands.end() ? nullptr : &*it;
}

const CompletionFlag* FindFlag(const CompletionCommand& command, const std::string& name) {
  auto it = std::find_if(command.flags.begin(), command.flags.end(), [&](const auto& f) { return f.name == name; });
  return it == command.flags.end() ? nullptr : &*it;
}

TEST(CliCompletion, LinkedFlagsAreDashedAndSortedIntoTheirSubcommand) {
  std::vector<CompletionCommand> commands = CommandsFromLinkedFlags();
  const CompletionCommand* run = Find(commands, "run");
  const CompletionCommand* ctl = Find(commands, "ctl");
  ASSERT_NE(run, nullptr);
  ASSERT_NE(ctl, nullptr);
  ASSERT_NE(Find(commands, "completion"), nullptr);

  const CompletionFlag* path = FindFlag(*run, "completion-test-path");
  ASSERT_NE(path, nullptr);
  EXPECT_TRUE(path->takes_value);
  const CompletionFlag* toggle = FindFlag(*run, "completion-test-switch");
  ASSERT_NE(toggle, nullptr);
  EXPECT_FALSE(toggle->takes_value);
  EXPECT_NE(FindFlag(*ctl, "completion-test-rounds"), nullptr);
  EXPECT_EQ(FindFlag(*run, "completion-test-rounds"), nullptr);
  EXPECT_EQ(FindFlag(*ctl, "completion-test-path"), nullptr);
}

TEST(CliCompletion, AbseilsOwnFlagsAreLeftOut) {
  for (const CompletionCommand& command : CommandsFromLinkedFlags()) {
    EXPECT_EQ(FindFlag(command, "helpfull"), nullptr) << command.name;
    EXPECT_EQ(FindFlag(command, "flagfile"), nullptr) << command.name;
  }
}

TEST(CliCompletion, CtlOffersItsVerbs) {
  const std::vector<CompletionCommand> commands = CommandsFromLinkedFlags();
  const CompletionCommand* ctl = Find(commands, "ctl");
  ASSERT_NE(ctl, nullptr);
  for (const char* verb : {"status", "balloon", "migrate", "snapshot"}) {
    EXPECT_NE(std::find(ctl->words.begin(), ctl->words.end(), verb), ctl->words.end()) << verb;
  }
}

TEST(CliCompletion, ScriptListsFlagsPerSubcommandAndWhichTakeValues) {
  std::string script = BashCompletionScript(
      {{.name = "run", .flags = {{"memory", true}, {"balloon", false}}},
       {.name = "ctl", .flags = {{"json", false}}, .words = {"status", "balloon"}}});
  EXPECT_NE(script.find("complete -o default -F _vmm vmm"), std::string::npos) << script;
  EXPECT_NE(script.find("compgen -W \"run ctl --help --version\""), std::string::npos) << script;
  EXPECT_NE(script.find("    run)\n      flags=\"--memory --balloon --help --version\"\n"
                        "      value_flags=\"--memory\"\n      words=\"\" ;;\n"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("    ctl)\n      flags=\"--json --help --version\"\n"
                        "      value_flags=\"\"\n      words=\"status balloon\" ;;\n"),
            std::string::npos)
      << script;
}

}  // namespace
}  // namespace vmm
