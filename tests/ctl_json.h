// SPDX-License-Identifier: MIT
// `vmm ctl --api SOCKET args...` from a guest test, its JSON output parsed.
#ifndef TESTS_CTL_JSON_H_
#define TESTS_CTL_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
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

// `vmm ctl args...` run to its end whatever its exit status (a test that
// expects a failure reads the status and the JSON the failure printed).
struct CtlResult {
  int status = -1;
  nlohmann::json json;  // discarded when stdout was not JSON
  std::string stdout_text, stderr_text;
};
inline CtlResult Ctl(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(600)) {
  std::vector<std::string> argv = {"ctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  GuestProcess ctl(argv);
  CtlResult r;
  r.status = ctl.WaitExit(timeout).value_or(-1);
  r.stdout_text = ctl.output();
  r.stderr_text = ctl.stderr_text();
  r.json = nlohmann::json::parse(r.stdout_text, nullptr, false);
  return r;
}

// Polls `vmm ctl balloon` until the guest's `actual` is `mib`.
inline bool WaitForBalloonActual(const std::string& socket, uint64_t mib, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::optional<nlohmann::json> info = CtlJson(socket, {"balloon"}, absl::Seconds(60));
    if (info && (*info)["actual_mib"] == mib) return true;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return false;
}

// Asks for a balloon of `mib` and waits until the guest's `actual` is there.
inline bool ResizeBalloon(const std::string& socket, uint64_t mib, absl::Duration timeout) {
  if (!CtlJson(socket, {"balloon", std::to_string(mib) + "M"})) return false;
  return WaitForBalloonActual(socket, mib, timeout);
}

// One of the balloon's counters in `vmm ctl balloon`'s output.
inline uint64_t BalloonCounter(const nlohmann::json& info, const char* name) {
  return info["counters"][name].get<uint64_t>();
}

}  // namespace tests

#endif  // TESTS_CTL_JSON_H_
