// SPDX-License-Identifier: MIT
// A tiny logger: one line per message on stderr, with a level and a
// timestamp. Debian's Abseil has no absl/log. Rate limiting exists for
// guest-triggered messages, which an untrusted guest could otherwise use to
// flood the host's logs.
#ifndef BASE_LOGGING_H_
#define BASE_LOGGING_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "absl/strings/str_format.h"

namespace base {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
void LogLine(LogLevel level, std::string_view message);

// Allows `burst` messages, then one in every 1000 after that.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t burst = 10) : burst_(burst) {}
  bool Allow() {
    uint64_t n = count_.fetch_add(1, std::memory_order_relaxed);
    return n < burst_ || n % 1000 == 0;
  }

 private:
  uint64_t burst_;
  std::atomic<uint64_t> count_{0};
};

}  // namespace base

#define VMM_LOG(level, ...)                                                        \
  do {                                                                             \
    if (::base::LogLevel::level >= ::base::MinLogLevel())                          \
      ::base::LogLine(::base::LogLevel::level, absl::StrFormat(__VA_ARGS__));      \
  } while (0)

#define LOG_DEBUG(...) VMM_LOG(kDebug, __VA_ARGS__)
#define LOG_INFO(...) VMM_LOG(kInfo, __VA_ARGS__)
#define LOG_WARNING(...) VMM_LOG(kWarning, __VA_ARGS__)
#define LOG_ERROR(...) VMM_LOG(kError, __VA_ARGS__)

// For messages a guest can trigger at will.
#define LOG_GUEST_ERROR(...)                                     \
  do {                                                           \
    static ::base::RateLimiter _limiter;                         \
    if (_limiter.Allow()) VMM_LOG(kWarning, "guest: " __VA_ARGS__); \
  } while (0)

#endif  // BASE_LOGGING_H_
