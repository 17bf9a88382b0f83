// SPDX-License-Identifier: MIT
// Checks the flags typed after `vmm run` or `vmm ctl` against that
// subcommand's own flags before Abseil parses them. Abseil's flags are
// global to the binary, so without this `vmm run --json` would be taken
// silently, and an unknown flag would be reported in its C++ spelling
// ('balloon_sise') rather than as typed.
#ifndef VMM_CLI_FLAG_CHECK_H_
#define VMM_CLI_FLAG_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vmm/cli_completion.h"

namespace vmm {

// `args` are the words after the subcommand. InvalidArgument names the
// flag as typed: unknown (with the closest known name when one is near),
// or one of another subcommand. Values ("--memory 4G", "--memory=4G"),
// "--noflag" for booleans and everything after "--" are left alone.
absl::Status CheckSubcommandFlags(const std::string& subcommand, const std::vector<std::string>& args,
                                  const std::vector<CompletionCommand>& commands);

}  // namespace vmm

#endif  // VMM_CLI_FLAG_CHECK_H_
