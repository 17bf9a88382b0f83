// SPDX-License-Identifier: MIT
// `vmm ctl --api SOCKET args...` from a guest test, its JSON output parsed.
#ifndef TESTS_CTL_JSON_H_
#define TESTS_CTL_JSON_H_

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "tests/guest_process.h"

namespace tests {

// A failed ctl is a test failure (with its stderr) and nullopt; output that
// is not JSON is nullopt.
inline std::optional<nlohmann::json> CtlJson(const std::string& socket, const std::vector<std::string>& args,
                                             absl::Duration timeout = absl::Seconds(30)) {
  std::vector<std::string> argv = {"ctl", "--api", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  GuestProcess ctl(argv);
  std::optional<int> status = ctl.WaitExit(timeout);
  if (status != 0) {
    ADD_FAILURE() << "vmm ctl " << (args.empty() ? "" : args[0]) << " failed: " << ctl.stderr_text();
    return std::nullopt;
  }
  nlohmann::json parsed = nlohmann::json::parse(ctl.output(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

}  // namespace tests

#endif  // TESTS_CTL_JSON_H_
