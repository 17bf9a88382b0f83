// SPDX-License-Identifier: MIT
// Bash completion for the `vmm` command, generated from the binary's own
// flag definitions (`vmm completion bash`), so the completion cannot list a
// flag the binary lacks or miss one it has. The build writes the script once
// (build/packaging/vmm.bash) and `cmake --install` puts it where
// bash-completion finds it.
#ifndef VMM_CLI_COMPLETION_H_
#define VMM_CLI_COMPLETION_H_

#include <string>
#include <vector>

namespace vmm {

struct CompletionFlag {
  std::string name;          // as typed, without the dashes: "api-socket"
  bool takes_value = false;  // false for booleans (--balloon, --balloon=false)
};

struct CompletionCommand {
  std::string name;                  // "run"
  std::vector<CompletionFlag> flags;
  std::vector<std::string> words;    // positional words offered: ctl's verbs
};

// A bash script defining `_vmm` and registering it for `vmm`. After a flag
// that takes a value, bash's default (file name) completion applies.
std::string BashCompletionScript(const std::vector<CompletionCommand>& commands);

// The subcommands and their flags as the Abseil flags linked into this
// binary define them (Abseil's own --helpfull, --flagfile, ... left out).
// A flag belongs to `ctl` when its help text starts with "vmm ctl", to
// both when it starts with "vmm run and vmm ctl", to `run` otherwise
// (main checks each subcommand's flags with vmm/cli_flag_check.h).
std::vector<CompletionCommand> CommandsFromLinkedFlags();

// `vmm completion bash`: prints the script; exit status 2 for any other
// shell or argument.
int RunCompletionCommand(int argc, char** argv);

}  // namespace vmm

#endif  // VMM_CLI_COMPLETION_H_
