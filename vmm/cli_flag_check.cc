// SPDX-License-Identifier: MIT
#include "vmm/cli_flag_check.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace vmm {
namespace {

const CompletionFlag* FindFlag(const CompletionCommand& command, const std::string& name) {
  auto it = std::find_if(command.flags.begin(), command.flags.end(),
                         [&](const CompletionFlag& f) { return f.name == name; });
  return it == command.flags.end() ? nullptr : &*it;
}

// A boolean flag of `command` written as --noNAME (Abseil's negation).
bool IsNegatedBool(const CompletionCommand& command, const std::string& name) {
  if (name.rfind("no", 0) != 0) return false;
  const CompletionFlag* flag = FindFlag(command, name.substr(2));
  return flag != nullptr && !flag->takes_value;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The subcommand's flag nearest to a mistyped one, if it is near enough to
// be a typo rather than another word.
std::optional<std::string> ClosestFlag(const CompletionCommand& command, const std::string& typed) {
  std::optional<std::string> best;
  size_t best_distance = 3;
  for (const CompletionFlag& flag : command.flags) {
    const size_t d = EditDistance(typed, flag.name);
    if (d < best_distance) {
      best_distance = d;
      best = flag.name;
    }
  }
  return best;
}

}  // namespace

absl::Status CheckSubcommandFlags(const std::string& subcommand, const std::vector<std::string>& args,
                                  const std::vector<CompletionCommand>& commands) {
  auto own = std::find_if(commands.begin(), commands.end(),
                          [&](const CompletionCommand& c) { return c.name == subcommand; });
  if (own == commands.end()) return absl::InvalidArgumentError(absl::StrCat("unknown command '", subcommand, "'"));
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;  // the rest are words, not flags
    if (arg.size() < 2 || arg[0] != '-') continue;
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t equals = arg.find('=');
    const std::string typed = arg.substr(0, equals);
    const std::string name =
        absl::StrReplaceAll(arg.substr(dashes, equals == std::string::npos ? std::string::npos : equals - dashes),
                            {{"_", "-"}});
    if (const CompletionFlag* flag = FindFlag(*own, name); flag != nullptr) {
      if (flag->takes_value && equals == std::string::npos) ++i;  // "--memory 4G": skip the value
      continue;
    }
    if (IsNegatedBool(*own, name)) continue;
    for (const CompletionCommand& other : commands) {
      if (&other != &*own && (FindFlag(other, name) != nullptr || IsNegatedBool(other, name))) {
        return absl::InvalidArgumentError(absl::StrCat("'", typed, "' is a flag of 'vmm ", other.name,
                                                       "', not of 'vmm ", subcommand, "'"));
      }
    }
    std::string message = absl::StrCat("unknown flag '", typed, "' for 'vmm ", subcommand, "'");
    if (std::optional<std::string> near = ClosestFlag(*own, name); near.has_value()) {
      absl::StrAppend(&message, " (did you mean --", *near, "?)");
    }
    return absl::InvalidArgumentError(message);
  }
  return absl::OkStatus();
}

}  // namespace vmm
