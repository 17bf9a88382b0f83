// SPDX-License-Identifier: MIT
#include "migration/io_wait.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "absl/time/clock.h"

namespace migration {

absl::StatusOr<bool> WaitUntil(int fd, short events, absl::Time deadline) {
  while (true) {
    int ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      // Rounded up: a wait never ends just before its deadline.
      ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
                                              1 << 30));
    }
    pollfd pfd{.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&pfd, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll");
    if (n > 0) return true;
  }
}

}  // namespace migration
