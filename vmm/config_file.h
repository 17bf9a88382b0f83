// SPDX-License-Identifier: MIT
// `vmm run --config vm.json`: the `vmm run` flags as one JSON object, so a
// systemd unit or a script names a file instead of rebuilding a long command
// line. Keys are the flag names with '_' or '-' ("api_socket" or
// "api-socket"), values their JSON types: strings for paths, sizes and
// durations ("memory": "2G"), a number for "cpus", booleans for the on/off
// flags. A flag given on the command line overrides the file. The file is
// user input: an unknown key or a value of the wrong type is an error naming
// the key and the file. `--print-config` prints the effective configuration
// in the same form (so its output is a valid config file).
#ifndef VMM_CONFIG_FILE_H_
#define VMM_CONFIG_FILE_H_

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vmm/run_options.h"

namespace vmm {

// The flag names given in argv, '-' spelled '_': "--api-socket=x" and
// "--api_socket x" give "api_socket"; "--noballoon" gives "balloon" too
// (Abseil's negative form of a boolean). Stops at "--".
std::set<std::string> FlagsGivenOnCommandLine(int argc, char** argv);

// Sets the fields `text` (a JSON object read from `origin`, named in errors)
// holds in `flags`, except those whose flag is in `given`.
absl::Status ApplyConfigJson(absl::string_view text, absl::string_view origin,
                             const std::set<std::string>& given, RunFlags& flags);

// Reads the file at `path` and applies it as ApplyConfigJson does.
absl::Status ApplyConfigFile(const std::string& path, const std::set<std::string>& given, RunFlags& flags);

// The configuration `flags` describe, as a config file (pretty JSON, one key a line).
std::string ConfigJson(const RunFlags& flags);

}  // namespace vmm

#endif  // VMM_CONFIG_FILE_H_
