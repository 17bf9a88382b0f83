// SPDX-License-Identifier: MIT
#include "base/logging.h"

#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace base {
namespace {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}
}  // namespace

void SetMinLogLevel(LogLevel level) { g_min_level = static_cast<int>(level); }
LogLevel MinLogLevel() { return static_cast<LogLevel>(g_min_level.load()); }

void LogLine(LogLevel level, std::string_view message) {
  // One write() per line so lines from several threads never interleave.
  // "\r\n" because the terminal may be in raw mode while the guest runs.
  std::string line = absl::StrFormat(
      "vmm %s %s: %s\r\n",
      absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()), LevelName(level),
      message);
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace base
